package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// TestBodiesDecodeAsBefore holds the request decoder to what encoding/json
// accepted: names in any case, but never with '_' or '-' ignored, and
// null for an absent value.
func TestBodiesDecodeAsBefore(t *testing.T) {
	for _, body := range []string{
		`{"RedirectURI":"https://app.test/cb","STATE":"st-1"}`,
		`{"redirecturi":"https://app.test/cb","state":"st-1","scope":null}`,
		" \n{\"redirectUri\":\"https://app.test/cb\",\"state\":\"st-1\"}\n ",
	} {
		f := &fakeInstances{auth: &sdk.Authorization{RedirectTo: "https://acme.test/auth"}}
		res := call(t, newUnitServer(t, f, nil), "POST", "/v1/connectors/acme/authorization-uri", "", body)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", body, res.status, res.raw)
		}
		if f.request.RedirectURI != "https://app.test/cb" || f.request.State != "st-1" {
			t.Errorf("%s: decoded as %+v", body, f.request)
		}
	}
}

// TestSealedPayloadsOpenWhatEncodingJSONWrote: a provider's raw profile may hold
// a name twice or bytes that are not UTF-8. encoding/json seals them as they
// are, and the session must open again, not be refused as forged.
func TestSealedPayloadsOpenWhatEncodingJSONWrote(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil)
	in := userSession{Connector: "acme", UserInfo: sdk.UserInfo{ID: "u-1",
		RawData: json.RawMessage("{\"id\":\"u-1\",\"id\":\"u-2\",\"nick\":\"\xff\"}")}, AuthTime: 42}
	sealed, err := srv.sealJSON(userSessionPurpose, in, 60e9)
	if err != nil {
		t.Fatal(err)
	}
	var out userSession
	if err := srv.openJSON(userSessionPurpose, sealed, "the session", &out); err != nil {
		t.Fatal(err)
	}
	if out.Connector != "acme" || out.UserInfo.ID != "u-1" || out.AuthTime != 42 || string(out.UserInfo.RawData) != string(in.UserInfo.RawData) {
		t.Errorf("opened %+v (raw %q)", out, out.UserInfo.RawData)
	}
}

// BenchmarkRequestDecoding compares the decoding of a user-info body by
// readJSON with what it replaced (encoding/json's Decoder, unknown fields
// refused), and the opening of its sealed flow.
func BenchmarkRequestDecoding(b *testing.B) {
	srv := newUnitServer(b, &fakeInstances{}, nil)
	sealed, err := srv.sealJSON(apiFlowPurpose("acme"), flow{ID: "0123456789abcdefghij", Expires: 1765000000,
		Session: sdk.Session{"state": strings.Repeat("s", 43), "codeVerifier": strings.Repeat("v", 43),
			"redirectUri": "https://app.example.com/callback"}, State: strings.Repeat("s", 43)}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	body := `{"session":"` + sealed + `","data":{"code":"` + strings.Repeat("c", 32) + `","state":"` + strings.Repeat("s", 43) + `"}}`
	request := func() (*httptest.ResponseRecorder, *http.Request) {
		return httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/connectors/acme/user-info", strings.NewReader(body))
	}
	b.Run("body/encoding-json", func(b *testing.B) {
		for b.Loop() {
			w, r := request()
			var req userInfoRequest
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil || dec.More() {
				b.Fatal(err)
			}
		}
	})
	b.Run("body/readJSON", func(b *testing.B) {
		for b.Loop() {
			w, r := request()
			var req userInfoRequest
			if err := srv.readJSON(w, r, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	payload, err := srv.sealer().Open(apiFlowPurpose("acme"), sealed)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("flow/encoding-json", func(b *testing.B) {
		for b.Loop() {
			var f flow
			if err := json.Unmarshal(payload, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("flow/decodeSealed", func(b *testing.B) {
		for b.Loop() {
			var f flow
			if err := decodeSealed(payload, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
