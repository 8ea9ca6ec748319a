// Package jsonvalue reads one JSON value the way the SDK reads what others
// send it (a provider's answers, the host's error details): numbers kept as
// json.Number, so that no digit is lost, and nothing after the value.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ErrTrailing is Decode's error for a body with data after its value: a second
// answer, read by no one or by someone else.
var ErrTrailing = errors.New("data follows the JSON value")

// Decode reads b as exactly one JSON value (RFC 8259), its numbers as json.Number.
func Decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, ErrTrailing
	}
	return v, nil
}
