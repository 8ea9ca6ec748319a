package jsonvalue

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeReadsOneValueWithEveryDigit(t *testing.T) {
	v, err := Decode([]byte(` {"id": 9007199254740993} `))
	if err != nil {
		t.Fatal(err)
	}
	if id := v.(map[string]any)["id"]; id != json.Number("9007199254740993") {
		t.Errorf("id = %#v", id)
	}
	for _, b := range []string{`{"a":1} {"b":2}`, `{"a":1}x`, `[1] 2`} {
		if _, err := Decode([]byte(b)); !errors.Is(err, ErrTrailing) {
			t.Errorf("Decode(%s) = %v, want ErrTrailing", b, err)
		}
	}
	if _, err := Decode([]byte(`{"a":`)); err == nil || errors.Is(err, ErrTrailing) {
		t.Errorf("a broken value: %v", err)
	}
}
