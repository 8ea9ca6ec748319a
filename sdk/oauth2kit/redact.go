package oauth2kit

import (
	"errors"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// redacted replaces a secret in an error.
const redacted = "[redacted]"

// minRedactLength keeps redaction from mangling messages over a secret so short that
// it is surely not a real code or token.
const minRedactLength = 8

// redact removes every given secret from err's message and string details. A
// provider may repeat what it was sent in its error description ("invalid code
// 4/0AX..."), and that text is copied into errors that get logged.
func redact(err error, secrets ...string) error {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return err
	}
	e.Message = redactText(e.Message, secrets)
	for k, v := range e.Details {
		if text, ok := v.(string); ok {
			e.Details[k] = redactText(text, secrets)
		}
	}
	return err
}

// redactText replaces every secret in s.
func redactText(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= minRedactLength {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}
