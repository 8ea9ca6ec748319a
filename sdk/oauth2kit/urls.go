package oauth2kit

import (
	"errors"
	"fmt"
	"net/url"
)

// CheckHTTPURL accepts an absolute http or https URL with a host and without a
// #fragment, as an endpoint setting must be. Its error reads well after a field
// name: "baseUrl: must be an absolute http or https URL, got ...".
func CheckHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("is not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an absolute http or https URL, got %q", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("has no host: %q", u.Redacted())
	case u.Fragment != "":
		return fmt.Errorf("must not have a #fragment: %q", u.Redacted())
	}
	return nil
}
