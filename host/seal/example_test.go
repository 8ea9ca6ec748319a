package seal_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/idplug/idplug/host/seal"
)

func Example() {
	oldKey := []byte("the previous session key, 32+ bytes long")
	newKey := []byte("the current session key, also 32+ bytes")

	before, _ := seal.New([][]byte{oldKey})
	token, _ := before.Seal("authz:acme", []byte(`{"state":"xyz"}`), 10*time.Minute)

	// After rotation the new key seals and the old one still opens.
	s, _ := seal.New([][]byte{newKey, oldKey})
	payload, err := s.Open("authz:acme", token)
	fmt.Println(string(payload), err)

	// A token is bound to its purpose.
	_, err = s.Open("authz:other", token)
	fmt.Println(errors.Is(err, seal.ErrInvalid))
	// Output:
	// {"state":"xyz"} <nil>
	// true
}
