package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

	// A full last page costs one more request, which lists nothing.
	s.set(func(s *githubStub) { s.orgs = many[:100] })
	res, err = signIn(t, s, in)
	if err != nil {
		t.Fatal(err)
	}
	if logins, _ := rawOrgs(t, res.UserInfo.RawData); len(logins) != 100 {
		t.Errorf("%d organizations, want 100", len(logins))
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
