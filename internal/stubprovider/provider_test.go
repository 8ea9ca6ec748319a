package stubprovider

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func call(t *testing.T, method, u, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutes(t *testing.T) {
	p := New(t)
	if u, _ := url.Parse(p.URL()); u.Hostname() != "127.0.0.1" {
		t.Errorf("URL %s is not on the loopback interface", p.URL())
	}
	p.Handle("POST /token", Reply(200, "application/json", `{"access_token":"AT"}`))
	p.Handle("/userinfo", JSON(201, map[string]string{"sub": "u-1"}))

	if resp, body := call(t, "POST", p.URL()+"/token", "", ""); resp.StatusCode != 200 || body != `{"access_token":"AT"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST /token = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := call(t, "GET", p.URL()+"/token", "", ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /token = %d, Allow %q; want 405 naming POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	for _, method := range []string{"GET", "POST"} {
		if resp, body := call(t, method, p.URL()+"/userinfo", "", ""); resp.StatusCode != 201 || body != `{"sub":"u-1"}` {
			t.Errorf("%s /userinfo = %d %q", method, resp.StatusCode, body)
		}
	}
	if resp, _ := call(t, "GET", p.URL()+"/token/x", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown path answered %d", resp.StatusCode)
	}

	p.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 400, map[string]string{"error": "invalid_grant", "code": r.PostForm.Get("code")})
	})
	if resp, body := call(t, "POST", p.URL()+"/token", "application/x-www-form-urlencoded", "code=c-1"); resp.StatusCode != 400 || body != "{\"code\":\"c-1\",\"error\":\"invalid_grant\"}\n" {
		t.Errorf("the replaced route answered %d %q", resp.StatusCode, body)
	}
}

func TestOverride(t *testing.T) {
	p := New(t)
	p.Handle("GET /user", Reply(200, "application/json", `{"id":1}`))
	p.Override("/user", Answer{Status: 403, Header: map[string]string{"X-RateLimit-Remaining": "0"}, Body: "slow down"})
	for _, method := range []string{"GET", "DELETE"} {
		if resp, body := call(t, method, p.URL()+"/user", "", ""); resp.StatusCode != 403 || body != "slow down" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("%s overridden /user = %d %q %v", method, resp.StatusCode, body, resp.Header)
		}
	}
	p.ClearOverrides()
	if resp, body := call(t, "GET", p.URL()+"/user", "", ""); resp.StatusCode != 200 || body != `{"id":1}` {
		t.Errorf("after ClearOverrides: %d %q", resp.StatusCode, body)
	}
}

func TestRecordedRequests(t *testing.T) {
	p := New(t)
	var seen struct{ form, body string }
	p.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.form, seen.body = r.Form.Get("code"), string(b)
		w.WriteHeader(204)
	})
	call(t, "POST", p.URL()+"/token?tenant=acme", "application/x-www-form-urlencoded", "code=c-1&grant_type=authorization_code")
	call(t, "POST", p.URL()+"/token", "application/json", `{"code":"c-2"}`)
	call(t, "GET", p.URL()+"/elsewhere", "", "")

	if seen.form != "" || seen.body != `{"code":"c-2"}` {
		t.Errorf("the handler saw form %q body %q (of the JSON request)", seen.form, seen.body)
	}
	reqs := p.Requests("/token")
	if len(reqs) != 2 {
		t.Fatalf("%d requests to /token, want 2", len(reqs))
	}
	first := reqs[0]
	if first.Method != "POST" || first.Path != "/token" || first.Query.Get("tenant") != "acme" || first.Form.Get("code") != "c-1" ||
		first.Form.Has("tenant") || first.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || string(first.Body) != "code=c-1&grant_type=authorization_code" {
		t.Errorf("first request = %+v", first)
	}
	if len(reqs[1].Form) != 0 || string(reqs[1].Body) != `{"code":"c-2"}` {
		t.Errorf("a JSON body recorded as form %v, body %q", reqs[1].Form, reqs[1].Body)
	}
	if last, ok := p.Last("/token"); !ok || string(last.Body) != `{"code":"c-2"}` {
		t.Errorf("Last(/token) = %+v, %v", last, ok)
	}
	if _, ok := p.Last("/never"); ok || len(p.Requests("/never")) != 0 {
		t.Error("requests recorded for a path never called")
	}
	if r, ok := p.Last("/elsewhere"); !ok || r.Method != "GET" {
		t.Errorf("a request without a route was not recorded: %+v", r)
	}
}

func TestStoppedWithTheTest(t *testing.T) {
	var base string
	t.Run("serving", func(t *testing.T) {
		p := New(t)
		p.Handle("/", Reply(200, "", "up"))
		base = p.URL()
		if _, body := call(t, "GET", base+"/", "", ""); body != "up" {
			t.Fatalf("body %q", body)
		}
	})
	if resp, err := http.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Error("the provider still answers after its test")
	}
}

func TestAnswerDefaults(t *testing.T) {
	p := New(t)
	p.Handle("/", Answer{Body: "plain"})
	resp, body := call(t, "GET", p.URL()+"/", "", "")
	if resp.StatusCode != 200 || body != "plain" {
		t.Errorf("a zero status answered %d %q", resp.StatusCode, body)
	}
	if a := Reply(503, "", "x"); a.Header != nil {
		t.Errorf("Reply without a Content-Type set headers %v", a.Header)
	}
}
