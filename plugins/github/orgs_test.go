package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

// rawOrgs is the logins of the organizations in a profile's raw data, and the
// rest of it.
func rawOrgs(t *testing.T, raw json.RawMessage) ([]string, map[string]any) {
	t.Helper()
	var user map[string]any
	if err := json.Unmarshal(raw, &user); err != nil {
		t.Fatalf("raw data %s: %v", raw, err)
	}
	list, ok := user["organizations"].([]any)
	if !ok {
		t.Fatalf("raw data has no organizations list: %s", raw)
	}
	delete(user, "organizations")
	logins := []string{}
	for _, o := range list {
		logins = append(logins, o.(map[string]any)["login"].(string))
	}
	return logins, user
}

func TestOrganizations(t *testing.T) {
	s := newGitHubStub(t)
	var many []string
	for i := range 150 {
		many = append(many, fmt.Sprintf("org-%03d", i))
	}
	s.set(func(s *githubStub) { s.orgs = many })
	in := parse(t, s.config(map[string]any{"organizations": true}))
	if in.scope != "read:user user:email read:org" {
		t.Errorf("default scope with organizations = %q", in.scope)
	}
	res, err := signIn(t, s, in)
	if err != nil {
		t.Fatal(err)
	}
	logins, user := rawOrgs(t, res.UserInfo.RawData)
	if !slices.Equal(logins, many) {
		t.Errorf("organizations = %v, want the 150 of both pages in order", logins)
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(octocat), &want)
	if fmt.Sprint(user) != fmt.Sprint(want) {
		t.Errorf("the rest of the raw data = %v, want GET /user's answer", user)
	}
	reqs := s.Requests("/user/orgs")
	if len(reqs) != 2 {
		t.Fatalf("%d requests to /user/orgs, want 2 pages", len(reqs))
	}
	for i, r := range reqs {
		q := r.Query
		if q.Get("per_page") != "100" || q.Get("page") != fmt.Sprint(i+1) ||
			r.Header.Get("Authorization") != "Bearer "+stubAccessToken || r.Header.Get("X-GitHub-Api-Version") != apiVersion {
			t.Errorf("request %d: %v %v", i, q, r.Header)
		}
	}

	// A full page without a next link is the last: no request for an empty page.
	s.set(func(s *githubStub) { s.orgs = many[:100] })
	before := len(s.Requests("/user/orgs"))
	res, err = signIn(t, s, in)
	if err != nil {
		t.Fatal(err)
	}
	if logins, _ := rawOrgs(t, res.UserInfo.RawData); len(logins) != 100 {
		t.Errorf("%d organizations, want 100", len(logins))
	}
	if n := len(s.Requests("/user/orgs")) - before; n != 1 {
		t.Errorf("%d requests for one full page and no next link, want 1", n)
	}

	// None: an empty list, so that a mapping reads raw.organizations as it is.
	s.set(func(s *githubStub) { s.orgs = nil })
	res, err = signIn(t, s, in)
	if err != nil {
		t.Fatal(err)
	}
	if logins, _ := rawOrgs(t, res.UserInfo.RawData); len(logins) != 0 {
		t.Errorf("organizations = %v, want none", logins)
	}
}

func TestOrganizationsAreOffByDefault(t *testing.T) {
	s := newGitHubStub(t)
	s.set(func(s *githubStub) { s.orgs = []string{"acme"} })
	res, err := signIn(t, s, parse(t, s.config(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.UserInfo.RawData) != octocat || len(s.Requests("/user/orgs")) != 0 {
		t.Errorf("raw data %s after %d requests to /user/orgs", res.UserInfo.RawData, len(s.Requests("/user/orgs")))
	}
	// A scope the operator set is theirs: read:org is not added to it.
	in := parse(t, s.config(map[string]any{"organizations": true, "scope": "read:user"}))
	if in.scope != "read:user" {
		t.Errorf("scope = %q", in.scope)
	}
}

// TestOrganizationsFailClosed: a sign-in whose organizations cannot all be read
// fails, rather than going on with a partial or empty list that a mapping
// refusing the members of one organization would let through.
func TestOrganizationsFailClosed(t *testing.T) {
	var tooMany []string
	for i := range maxOrgPages*orgsPerPage + 1 {
		tooMany = append(tooMany, fmt.Sprintf("org-%04d", i))
	}
	tests := []struct {
		name string
		set  func(*githubStub)
		code sdk.ErrorCode
	}{
		{"more organizations than the connector reads", func(s *githubStub) { s.orgs = tooMany }, sdk.CodeInvalidResponse},
		{"not a list", func(s *githubStub) { s.orgsBody = `{"login":"acme"}` }, sdk.CodeInvalidResponse},
		// null decodes into no list without an error: it is not "member of no organization".
		{"null instead of a list", func(s *githubStub) { s.orgsBody = `null` }, sdk.CodeInvalidResponse},
		{"an organization without a login", func(s *githubStub) { s.orgsBody = `[{"login":"acme"},{"id":2}]` }, sdk.CodeInvalidResponse},
		{"not JSON", func(s *githubStub) { s.orgsBody = `<html>` }, sdk.CodeInvalidResponse},
		{"outage", func(s *githubStub) { s.orgsErr = &stubprovider.Answer{Status: 503} }, sdk.CodeProviderUnavailable},
		{"rate limited", func(s *githubStub) {
			s.orgsErr = &stubprovider.Answer{Status: 403, Header: map[string]string{"X-RateLimit-Remaining": "0"}, Body: `{"message":"API rate limit exceeded"}`}
		}, sdk.CodeRateLimitExceeded},
		{"forbidden by the organization", func(s *githubStub) {
			s.orgsErr = &stubprovider.Answer{Status: 403, Body: `{"message":"Resource not accessible by integration"}`}
		}, sdk.CodeInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGitHubStub(t)
			s.set(tt.set)
			_, err := signIn(t, s, parse(t, s.config(map[string]any{"organizations": true})))
			if codeOf(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}

	// The user took read:org out of the authorization URL on the way: GitHub
	// grants what the URL asks, and /user/orgs then lists public memberships only.
	s := newGitHubStub(t)
	s.set(func(s *githubStub) { s.orgs = []string{"acme"} })
	in := parse(t, s.config(map[string]any{"organizations": true}))
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: callbackURL, State: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(auth.RedirectTo, "+read%3Aorg", "", 1)
	if edited == auth.RedirectTo {
		t.Fatalf("no read:org to take out of %s", auth.RedirectTo)
	}
	_, err = connector{}.UserInfo(context.Background(), in, sdk.UserInfoRequest{Session: auth.Session,
		Callback: map[string]string{"code": s.approve(edited), "state": "st-1"}})
	if codeOf(err) != sdk.CodeAuthorizationFailed || !strings.Contains(err.Error(), "did not grant read:org") {
		t.Fatalf("a token without read:org: %v", err)
	}
	for granted, ok := range map[string]bool{"read:user,read:org": true, "admin:org": true, "write:org,user:email": true, "": false, "read:orgs": false, "read:user read:org": true} {
		if err := grantsOrgs(granted); (err == nil) != ok {
			t.Errorf("grantsOrgs(%q) = %v", granted, err)
		}
	}
}

// TestOrganizationsFailClosedWhenSSOLeftSomeOut: GitHub leaves out of GET
// /user/orgs the organizations that enforce SAML single sign-on for which the
// token is not authorized, and says so in X-GitHub-SSO. A member of "blocked"
// (an organization a mapping refuses) without an active SAML session for it gets
// a list without it: the sign-in fails instead, saying what the user can do.
func TestOrganizationsFailClosedWhenSSOLeftSomeOut(t *testing.T) {
	for value, ids := range map[string]any{
		"partial-results; organizations=21955855,20582480": "21955855,20582480",
		"partial-results": nil,
		"partial-results; organizations=<b>acme</b>": nil, // the provider's text stays out of the error
	} {
		s := newGitHubStub(t)
		s.set(func(s *githubStub) {
			s.orgsErr = &stubprovider.Answer{Status: 200, Header: map[string]string{
				"Content-Type": "application/json; charset=utf-8",
				"X-GitHub-SSO": value,
			}, Body: `[{"login":"public-org","id":1}]`}
		})
		res, err := signIn(t, s, parse(t, s.config(map[string]any{"organizations": true})))
		if err == nil {
			logins, _ := rawOrgs(t, res.UserInfo.RawData)
			t.Fatalf("X-GitHub-SSO: %s: the partial list was taken as whole: %v", value, logins)
		}
		e := sdk.AsError(err)
		if e.Code != sdk.CodeAuthorizationFailed || !strings.Contains(e.Message, "X-GitHub-SSO") || !strings.Contains(e.Message, "/sso") {
			t.Errorf("X-GitHub-SSO: %s: err = %v", value, err)
		}
		if e.Details["organizations"] != ids {
			t.Errorf("X-GitHub-SSO: %s: details = %v, want organizations %v", value, e.Details, ids)
		}
	}
}

// TestOrganizationsFollowTheLinkHeader: GitHub's Link header, not the length of
// a page, says whether another follows (GitHub's filtering can shorten a page).
// An organization on a page after a short one is read.
func TestOrganizationsFollowTheLinkHeader(t *testing.T) {
	s := newGitHubStub(t)
	s.HandleFunc("GET /user/orgs", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		var list []string
		switch page {
		case 1:
			for i := range 99 { // one left out of this page by GitHub's filtering
				list = append(list, fmt.Sprintf(`{"login":"org-%03d","id":%d}`, i, 1000+i))
			}
			// The query's parameters in another order, still the next page.
			w.Header().Set("Link", fmt.Sprintf(`<%s/user/orgs?page=2&per_page=100>; rel="next", <%s/user/orgs?per_page=100&page=2>; rel="last"`, s.URL(), s.URL()))
		case 2:
			list = append(list, `{"login":"blocked","id":9}`)
			w.Header().Set("Link", fmt.Sprintf(`<%s/user/orgs?per_page=100&page=1>; rel="prev", <%s/user/orgs?per_page=100&page=1>; rel="first"`, s.URL(), s.URL()))
		}
		fmt.Fprint(w, "["+strings.Join(list, ",")+"]")
	})
	res, err := signIn(t, s, parse(t, s.config(map[string]any{"organizations": true})))
	if err != nil {
		t.Fatal(err)
	}
	logins, _ := rawOrgs(t, res.UserInfo.RawData)
	if len(logins) != 100 || logins[99] != "blocked" {
		t.Fatalf("page 2 (announced by Link rel=next after a short page) was not read: %d organizations: %v", len(logins), logins)
	}

	// Ten full pages, the last without a next link: every one is read.
	s = newGitHubStub(t)
	var most []string
	for i := range maxOrgPages * orgsPerPage {
		most = append(most, fmt.Sprintf("org-%04d", i))
	}
	s.set(func(s *githubStub) { s.orgs = most })
	res, err = signIn(t, s, parse(t, s.config(map[string]any{"organizations": true})))
	if err != nil {
		t.Fatal(err)
	}
	if logins, _ := rawOrgs(t, res.UserInfo.RawData); len(logins) != len(most) || len(s.Requests("/user/orgs")) != maxOrgPages {
		t.Errorf("%d organizations in %d requests, want %d in %d", len(logins), len(s.Requests("/user/orgs")), len(most), maxOrgPages)
	}
}

// TestOrganizationsRefuseANextPageOffTheList: a next link is taken only as the
// next page of the list asked (the configured API's scheme, host and path, the
// query's page one more). Any other link, or a Link header that cannot be read,
// fails the sign-in (whether more organizations follow is unknown), and nothing
// is requested from where it points.
func TestOrganizationsRefuseANextPageOffTheList(t *testing.T) {
	elsewhere := stubprovider.New(t)
	elsewhere.Handle("/user/orgs", stubprovider.Reply(200, "application/json", `[]`))
	for name, link := range map[string]string{
		"another host":               `<` + elsewhere.URL() + `/user/orgs?per_page=100&page=2>; rel="next"`,
		"another scheme":             `<https://{host}/user/orgs?per_page=100&page=2>; rel="next"`,
		"another path":               `<http://{host}/api/user/orgs?per_page=100&page=2>; rel="next"`,
		"an escaped path":            `<http://{host}/user%2Forgs?per_page=100&page=2>; rel="next"`,
		"another page size":          `<http://{host}/user/orgs?per_page=50&page=2>; rel="next"`,
		"a page skipped":             `<http://{host}/user/orgs?per_page=100&page=3>; rel="next"`,
		"the same page again":        `<http://{host}/user/orgs?per_page=100&page=1>; rel="next"`,
		"a parameter added":          `<http://{host}/user/orgs?per_page=100&page=2&since=5>; rel="next"`,
		"the page given twice":       `<http://{host}/user/orgs?per_page=100&page=2&page=3>; rel="next"`,
		"a cursor instead of a page": `<http://{host}/user/orgs?per_page=100&after=Y3Vyc29y>; rel="next"`,
		"credentials":                `<http://u:p@{host}/user/orgs?per_page=100&page=2>; rel="next"`,
		"a relative URL":             `</user/orgs?per_page=100&page=2>; rel="next"`,
		"two next links":             `<http://{host}/user/orgs?per_page=100&page=2>; rel="next", <http://{host}/user/orgs?per_page=100&page=3>; rel="next"`,
		"no closing bracket":         `<http://{host}/user/orgs?per_page=100&page=2; rel="next"`,
		"an unterminated quote":      `<http://{host}/user/orgs?per_page=100&page=2>; rel="next`,
		"junk after the target":      `<http://{host}/user/orgs?per_page=100&page=2> rel="next"`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newGitHubStub(t)
			host := strings.TrimPrefix(s.URL(), "http://")
			s.HandleFunc("GET /user/orgs", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("Link", strings.ReplaceAll(link, "{host}", host))
				fmt.Fprint(w, `[{"login":"acme","id":1}]`)
			})
			res, err := signIn(t, s, parse(t, s.config(map[string]any{"organizations": true})))
			if codeOf(err) != sdk.CodeInvalidResponse {
				if err == nil {
					logins, _ := rawOrgs(t, res.UserInfo.RawData)
					t.Fatalf("Link: %s: signed in with organizations %v", link, logins)
				}
				t.Fatalf("Link: %s: err = %v, want invalid_response", link, err)
			}
			if n := len(s.Requests("/user/orgs")); n != 1 || len(elsewhere.Requests("/user/orgs")) != 0 {
				t.Errorf("Link: %s: %d requests to the API, %d elsewhere, want 1 and 0", link, n, len(elsewhere.Requests("/user/orgs")))
			}
		})
	}
}

// TestNextOrgsPage: after page 2, a next link is page 3 of the list asked. Its
// host compares without regard to case and with the scheme's default port, its
// query in any order; what else differs is named in the error.
func TestNextOrgsPage(t *testing.T) {
	const page3 = `https://api.github.com/user/orgs?per_page=100&page=3`
	tests := []struct {
		link string
		next bool
		err  string // in the error; "" for none
	}{
		{"", false, ""},
		{`<` + page3 + `>; rel="prev", <` + page3 + `>; rel="last"`, false, ""},
		{`<` + page3 + `>; rev="next"`, false, ""},
		{`<` + page3 + `>; title="a, b; rel=next"`, false, ""},
		{`<` + page3 + `>; rel="last"; rel="next"`, false, ""}, // a rel after the first is ignored
		{`<` + page3 + `>; rel="next"`, true, ""},
		{`<` + page3 + `>; rel=next`, true, ""},
		{`<` + page3 + `>; REL="Next"`, true, ""},
		{`<` + page3 + `>;rel="next last"`, true, ""},
		{`<https://API.GitHub.com:443/user/orgs?page=3&per_page=100>; rel="next"`, true, ""},
		{`, <` + page3 + `>; rel="next",`, true, ""},
		{`<https://api.github.com:8443/user/orgs?per_page=100&page=3>; rel="next"`, false, "another host"},
		{`<https://api.github.com.evil.example/user/orgs?per_page=100&page=3>; rel="next"`, false, "another host"},
		{`<http://api.github.com/user/orgs?per_page=100&page=3>; rel="next"`, false, "another scheme"},
		{`<https://api.github.com/user/orgs/?per_page=100&page=3>; rel="next"`, false, "another path"},
		{`<` + page3 + `#x>; rel="next"`, false, "a fragment"},
		{`<https://api.github.com/user/orgs?per_page=100&page=03>; rel="next"`, false, "another query"},
		{`<` + page3 + `&x=%zz>; rel="next"`, false, "another query"},
		{`<mailto:a@b.example>; rel="next"`, false, "not an absolute URL"},
		{`<` + page3 + `>; rel="next"; =x`, false, "cannot be read"},
		{`<` + page3 + `>; rel=`, false, "cannot be read"},
		{page3 + `; rel="next"`, false, "cannot be read"},
	}
	for _, tt := range tests {
		var header []string
		if tt.link != "" {
			header = []string{tt.link}
		}
		next, err := nextOrgsPage("https://api.github.com/", 2, header)
		if tt.err == "" && (err != nil || next != tt.next) {
			t.Errorf("%s: %v, %v; want %v", tt.link, next, err, tt.next)
		}
		if tt.err != "" && (codeOf(err) != sdk.CodeInvalidResponse || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v; want invalid_response naming %q", tt.link, err, tt.err)
		}
	}
}

func TestWithOrganizations(t *testing.T) {
	orgs := []json.RawMessage{json.RawMessage(`{"login":"acme"}`)}
	for in, want := range map[string]string{
		`{"id":1}`:      `{"id":1,"organizations":[{"login":"acme"}]}`,
		`{}`:            `{"organizations":[{"login":"acme"}]}`,
		" {\n} ":        "{\n" + `"organizations":[{"login":"acme"}]}`,
		`{"a":{"b":2}}`: `{"a":{"b":2},"organizations":[{"login":"acme"}]}`,
	} {
		got, err := withOrganizations([]byte(in), orgs)
		if err != nil || string(got) != want || !json.Valid(got) {
			t.Errorf("withOrganizations(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if got, _ := withOrganizations([]byte(`{"id":1}`), nil); string(got) != `{"id":1,"organizations":[]}` {
		t.Errorf("no organizations: %s", got)
	}
	for _, user := range []string{`[1]`, `{"id":1`, `{"id":1,"organizations":[{"login":"acme"}]}`} {
		if _, err := withOrganizations([]byte(user), orgs); codeOf(err) != sdk.CodeInvalidResponse {
			t.Errorf("%s: %v", user, err)
		}
	}
}
