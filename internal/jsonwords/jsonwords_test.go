package jsonwords

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestTypeError(t *testing.T) {
	var v struct {
		Name  string            `json:"name"`
		Tags  []string          `json:"tags"`
		Count *int              `json:"count"`
		Extra map[string]string `json:"extra"`
	}
	for body, want := range map[string][2]string{
		`{"name": 1}`:       {"a string", "a number"},
		`{"tags": "x"}`:     {"a list", "a string"},
		`{"count": true}`:   {"a whole number", "true or false"},
		`{"extra": [1]}`:    {"an object", "a list"},
		`{"name": {"a":1}}`: {"a string", "an object"},
	} {
		var te *json.UnmarshalTypeError
		if err := json.Unmarshal([]byte(body), &v); !errors.As(err, &te) {
			t.Fatalf("%s: %v", body, err)
		}
		if w, g := TypeError(te); w != want[0] || g != want[1] {
			t.Errorf("%s: want %q got %q, expected %q and %q", body, w, g, want[0], want[1])
		}
	}
}
