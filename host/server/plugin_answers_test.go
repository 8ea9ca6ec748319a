package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// What a plugin answers at user-info that cannot be written as JSON (a rawData
// that is not JSON: the wire carries it as bytes; an expiry past year 9999)
// turned into "200 OK" with an empty body, after the flow was spent. The host
// refuses such answers as they come in (host/process); whatever gets through is
// a 500 that says so.
func TestUnencodableAnswerIsNotAnEmptyOK(t *testing.T) {
	for name, res := range map[string]*sdk.UserInfoResult{
		"rawData not JSON": {UserInfo: sdk.UserInfo{ID: "u-1", RawData: json.RawMessage(`{"a":`)}},
		"expiry after 9999": {UserInfo: sdk.UserInfo{ID: "u-1"},
			Tokens: &sdk.TokenSet{AccessToken: "at", ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeInstances{auth: &sdk.Authorization{RedirectTo: "https://acme.test/auth", Session: sdk.Session{"v": "1"}}, userInfo: res}
			srv := newUnitServer(t, f, nil)
			r := call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "", `{"redirectUri":"https://app.test/cb","state":"st-1"}`)
			var auth authorizationResponse
			if err := json.Unmarshal(r.raw, &auth); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(map[string]any{"session": auth.Session, "data": map[string]any{"code": "c", "state": "st-1"}})
			r = call(t, srv, "POST", "/v1/connectors/acme/user-info", "", string(body))
			if !json.Valid(r.raw) || r.status == 200 {
				t.Errorf("user-info answered %d with a body of %d bytes: %q", r.status, len(r.raw), r.raw)
			}
		})
	}
}

type bigLogoInstances struct {
	*fakeInstances
	n int
}

func (b bigLogoInstances) Instances() []host.Instance {
	var out []host.Instance
	for range b.n {
		in := acme.Instance
		in.Logo = "data:image/png;base64," + strings.Repeat("A", 3<<20)
		out = append(out, in)
	}
	return out
}

// The public home page (no key, no cookie) wrote every configured instance's
// logo as its plugin declared it: a plugin's 3 MiB logo made each GET / a
// response of megabytes. Logos over 64 KiB are left out (the host bounds
// metadata too, host/process).
func TestHomePageIsNotAnAmplifier(t *testing.T) {
	srv := newUnitServer(t, bigLogoInstances{&fakeInstances{}, 3}, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if n := rec.Body.Len(); n > 1<<20 {
		t.Errorf("GET / answered %d bytes to an anonymous request", n)
	}
}

// A plugin's redirectTo (or a URL the host builds from its template) had no
// bound but the 4 MiB reply limit: every anonymous GET /sign-in/{id} answered
// it twice (Location, and the HTML body http.Redirect writes), megabytes for a
// request of a hundred bytes. No browser follows a Location that long.
func TestRedirectToIsBounded(t *testing.T) {
	f := &fakeInstances{auth: &sdk.Authorization{RedirectTo: "https://acme.test/auth?x=" + strings.Repeat("A", 3<<20), Session: sdk.Session{"v": "1"}}}
	srv := newUnitServer(t, f, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/sign-in/acme", nil))
	size := rec.Body.Len() + len(rec.Header().Get("Location"))
	if rec.Code == 302 || size > 64<<10 || !strings.Contains(rec.Body.String(), "longer than") {
		t.Errorf("GET /sign-in/acme answered %d with %d bytes (Location and body)", rec.Code, size)
	}
}

type badDefaultInstances struct{ *fakeInstances }

func (b badDefaultInstances) Instance(id string) (host.InstanceDetail, error) {
	d, err := b.fakeInstances.Instance(id)
	if err == nil {
		d.FormItems = []sdk.FormItem{{Key: "k", Type: sdk.FormText, DefaultValue: json.RawMessage(`{`)}} // default_value_json is bytes on the wire
	}
	return d, err
}

// A form item's default value is bytes on the wire, kept as raw JSON: one that
// was not JSON made /v1/connectors/{id} answer 200 with an empty body.
func TestDescribeWithBadDefaultIsNotAnEmptyOK(t *testing.T) {
	srv := newUnitServer(t, badDefaultInstances{&fakeInstances{}}, nil)
	r := call(t, srv, "GET", "/v1/connectors/acme", "", "")
	if r.status == 200 || !json.Valid(r.raw) {
		t.Errorf("GET /v1/connectors/acme answered %d with a body of %d bytes", r.status, len(r.raw))
	}
}

type logoInstances struct {
	*fakeInstances
	list []host.Instance
}

func (l logoInstances) Instances() []host.Instance { return append([]host.Instance(nil), l.list...) }

// A plugin's logo at an address of its author's choosing was fetched by every
// visitor's browser from the public home page: the author learned who opened
// it, and when. The page shows a plugin's logo only as a data: URL; one the
// operator configured shows as it is.
func TestHomePageFetchesNoPluginChosenAddress(t *testing.T) {
	tracked, own, inline := acme.Instance, acme.Instance, acme.Instance
	tracked.ID, tracked.Logo = "tracked", "https://plugin-author.test/pixel.png?deployment=1"
	own.ID, own.Logo, own.OperatorLogo = "own", "https://cdn.example.test/own.png", true
	inline.ID, inline.Logo = "inline", "data:image/svg+xml;base64,PHN2Zy8+"
	huge := acme.Instance
	huge.ID, huge.Logo = "huge", "data:image/png;base64,"+strings.Repeat("A", 1<<20)
	srv := newUnitServer(t, logoInstances{&fakeInstances{}, []host.Instance{tracked, own, inline, huge}}, nil)
	// The home page, and the OpenID Provider's chooser, which an app's
	// /oidc/authorize shows anyone when its client allows several connectors.
	home := httptest.NewRecorder()
	srv.ServeHTTP(home, httptest.NewRequest("GET", "/", nil))
	chooser := httptest.NewRecorder()
	providerBrowser{srv}.Choose(chooser, httptest.NewRequest("GET", "/oidc/login?id=x", nil), []string{"tracked", "own", "inline", "huge"}, "/oidc/login?id=x")
	for page, rec := range map[string]*httptest.ResponseRecorder{"home page": home, "chooser": chooser} {
		body := rec.Body.String()
		if strings.Contains(body, "plugin-author.test") {
			t.Errorf("the %s loads a plugin's logo from its author's server", page)
		}
		if len(body) > 64<<10 {
			t.Errorf("the %s is %d bytes: a plugin's logo over the bound is shown", page, len(body))
		}
		if !strings.Contains(body, `<img src="https://cdn.example.test/own.png"`) || !strings.Contains(body, `<img src="data:image/svg&#43;xml;base64,PHN2Zy8&#43;"`) {
			t.Errorf("the %s lacks the operator's logo or the plugin's data: logo:\n%s", page, body)
		}
		if !strings.Contains(body, `id="sign-in-tracked"`) {
			t.Errorf("on the %s, the connector whose logo was left out lost its button", page)
		}
	}
}
