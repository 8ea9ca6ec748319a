package oauth2kit

import (
	"strings"
	"testing"
)

// TestCheckSecureURLRefusesHTTPOffLoopback: an endpoint that gets secrets
// or is believed must be https; http only on a loopback address (a provider
// on this machine, as in tests).
func TestCheckSecureURLRefusesHTTPOffLoopback(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://id.example.com/token":      true,
		"http://127.0.0.1:8080/token":       true,
		"http://127.8.9.10/token":           true,
		"http://[::1]:8080/token":           true,
		"http://localhost:8080/token":       true,
		"http://id.example.com/token":       false,
		"http://10.0.0.1/token":             false,
		"http://localhost.evil.example/jwk": false,
		"http://127.0.0.1.evil.example/jwk": false,
		"id.example.com/token":              false,
	} {
		err := CheckSecureURL(raw)
		if (err == nil) != ok {
			t.Errorf("CheckSecureURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	if err := CheckSecureURL("http://id.example.com/jwks?key=hunter22"); err == nil || strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "must be https") {
		t.Errorf("CheckSecureURL's error: %v", err)
	}
}

func TestCheckHTTPURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://github.com":                     true,
		"http://127.0.0.1:8080/api/v3":           true,
		"https://user:pw@ghe.example/api/v3?x=1": true,
		"":                                       false,
		"github.com":                             false,
		"ftp://github.com":                       false,
		"https://":                               false,
		"https://github.com/#frag":               false,
		"https://[::1":                           false,
	} {
		err := CheckHTTPURL(raw)
		if (err == nil) != ok {
			t.Errorf("CheckHTTPURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	for _, raw := range []string{"ftp://user:hunter22@x", "https://api.test/v1?key=hunter22#x", "ftp://api.test/?key=hunter22"} {
		if err := CheckHTTPURL(raw); err == nil || strings.Contains(err.Error(), "hunter22") {
			t.Errorf("CheckHTTPURL leaks a secret: %v", err)
		}
	}
	if err := CheckHTTPURL("https://api.test/v1?key=hunter22#x"); err == nil || !strings.Contains(err.Error(), `"https://api.test/v1?...#..."`) {
		t.Errorf("the error does not show the URL's place: %v", err)
	}
	// A host and port without a scheme is a common slip; url.Parse's words
	// ("first path segment in URL cannot contain colon") do not say so.
	if err := CheckHTTPURL("127.0.0.1:9501/oauth/token"); err == nil || !strings.Contains(err.Error(), "it has no scheme") {
		t.Errorf("a URL without a scheme: %v", err)
	}
}
