package egress

import (
	"errors"
	"slices"
	"testing"
)

func TestConfigHosts(t *testing.T) {
	raw := []byte(`{"authorizationEndpoint":"https://Login.Example.com/authorize","tokenEndpoint":"https://login.example.com:8443/token",
		"userInfoEndpoint":"http://127.0.0.1:9400/me","nested":{"list":["https://api.example.com/x", "not a url", "ftp://x.test/"]},
		"clientSecret":"https://looks.like/a-url-but-is-a-secret", "n": 3}`)
	got := ConfigHosts(raw)
	want := []string{"127.0.0.1:9400", "api.example.com:443", "login.example.com:443", "login.example.com:8443", "looks.like:443"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := ConfigHosts([]byte(`not json`)); got != nil {
		t.Errorf("bad JSON: %q", got)
	}
}

func TestRulesMatch(t *testing.T) {
	r := Rules{Named: []string{"accounts.example.com:443", "127.0.0.1:9400"}, Declared: []string{"api.github.com:443"}}
	cases := []struct {
		to        string
		ok        bool
		privateOK bool
		reason    string
	}{
		{"accounts.example.com:443", true, true, ""},
		{"ACCOUNTS.example.com.:443", true, true, ""},
		{"127.0.0.1:9400", true, true, ""},
		{"api.github.com:443", true, false, ""},
		// On the provider's site, over https: what discovery returns.
		{"oauth2.example.com:443", true, false, ""},
		{"oauth2.example.com:80", false, false, ReasonNotNamed},
		{"example.org:443", false, false, ReasonNotNamed},
		{"attacker.com:443", false, false, ReasonNotNamed},
		{"127.0.0.1:9401", false, false, ReasonNotNamed},
		{"api.github.com:80", false, false, ReasonNotNamed},
		{"evil.github.com:443", false, false, ReasonNotNamed},
		{"no-port", false, false, ReasonBadRequest},
		{"x.test:99999", false, false, ReasonBadRequest},
	}
	for _, c := range cases {
		t.Run(c.to, func(t *testing.T) {
			got, err := r.Match(c.to)
			if c.ok != (err == nil) {
				t.Fatalf("Match(%q) = %+v, %v", c.to, got, err)
			}
			if err != nil {
				var ref *Refusal
				if !errors.As(err, &ref) || ref.Reason != c.reason {
					t.Errorf("refusal %v, want reason %s", err, c.reason)
				}
				return
			}
			if got.PrivateOK != c.privateOK {
				t.Errorf("PrivateOK = %v", got.PrivateOK)
			}
		})
	}
	// A public suffix is no site: naming one host on github.io allows no other.
	r = Rules{Named: []string{"me.github.io:443"}}
	if _, err := r.Match("attacker.github.io:443"); err == nil {
		t.Error("another tenant of a public suffix was allowed")
	}
	// Nor on an identity platform whose tenants share a site the list does not
	// know as a suffix: another customer's tenant is no part of this provider.
	r = Rules{Named: []string{"myorg.okta.com:443", "myorg.us.auth0.com:443"}}
	for _, other := range []string{"attacker.okta.com:443", "attacker.us.auth0.com:443", "attacker.auth0.com:443"} {
		if _, err := r.Match(other); err == nil {
			t.Errorf("%s, another tenant of a named tenant's platform, was allowed", other)
		}
	}
	if _, err := r.Match("myorg.okta.com:443"); err != nil {
		t.Errorf("the named tenant itself: %v", err)
	}
	// Platforms the list first missed.
	for named, other := range map[string]string{
		"acme.projects.oryapis.com:443": "attacker.projects.oryapis.com:443",
		"acme.authing.cn:443":           "attacker.authing.cn:443",
		"acme.authkit.app:443":          "attacker.authkit.app:443",
		"acme.ghe.com:443":              "attacker.ghe.com:443",
	} {
		if _, err := (Rules{Named: []string{named}}).Match(other); err == nil {
			t.Errorf("config names %s; the plugin may reach %s, another customer's tenant", named, other)
		}
	}
	// No list is complete: with the rule off (a plugin whose egress the
	// operator narrowed), only the named host itself is on its site.
	off := Rules{Named: []string{"accounts.example.com:443"}, SameSiteOff: true}
	if _, err := off.Match("oauth2.example.com:443"); err == nil {
		t.Error("the same-site rule turned off still allowed another host of the site")
	}
	if _, err := off.Match("accounts.example.com:443"); err != nil {
		t.Errorf("the named host with the rule off: %v", err)
	}
}

func TestDeclaredHosts(t *testing.T) {
	declared := []string{"api.github.com", "github.com:443", "uploads.github.com:8443"}
	if got := DeclaredHosts(declared, nil); !slices.Equal(got, []string{"api.github.com:443", "github.com:443", "uploads.github.com:8443"}) {
		t.Errorf("not narrowed: %q", got)
	}
	if got := DeclaredHosts(declared, []string{"api.github.com:443"}); !slices.Equal(got, []string{"api.github.com:443"}) {
		t.Errorf("narrowed: %q", got)
	}
	if got := DeclaredHosts(declared, []string{}); len(got) != 0 {
		t.Errorf("narrowed to nothing: %q", got)
	}
	// hostile: egress_allow narrows, it never adds.
	if got := DeclaredHosts(declared, []string{"attacker.com"}); len(got) != 0 {
		t.Errorf("egress_allow added a host: %q", got)
	}
}
