package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
)

// githubStub answers like github.com and api.github.com, on the shared stub
// provider, with the response shapes GitHub documents: a form-encoded token answer
// (GitHub's default), OAuth errors with HTTP 200, a /user object whose id is a
// number and whose email is null for users who keep it private, and /user/emails
// with primary and verified flags.
type githubStub struct {
	*stubprovider.Provider

	mu       sync.Mutex
	codes    map[string]string // issued, unused: the scope each was granted
	tokens   map[string]bool
	user     string
	emails   string
	emailErr *stubprovider.Answer // how /user/emails fails, when it does
	orgs     []string             // the logins GET /user/orgs lists, paged as GitHub pages them
	orgsErr  *stubprovider.Answer // how /user/orgs fails, when it does
	orgsBody string               // what /user/orgs answers instead of the list, when set
}

const (
	stubClientID     = "Iv1.stubclient"
	stubClientSecret = "stub-secret-0123456789"
	stubAccessToken  = "gho_16C7e42F292c6912E7710c838347Ae178B4a"

	// octocat is GET /user for a user who keeps their email address private.
	octocat = `{"login":"octocat","id":12345678901,"node_id":"MDQ6VXNlcjE=","avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4","type":"User","site_admin":false,"name":"The Octocat","company":"@github","blog":"https://github.blog","location":"San Francisco","email":null,"hireable":null,"bio":null,"public_repos":8,"followers":20,"following":0,"created_at":"2011-01-25T18:44:36Z","updated_at":"2024-01-22T12:00:00Z"}`
	// octocatEmails is GET /user/emails.
	octocatEmails = `[{"email":"octocat@old.example.com","verified":true,"primary":false,"visibility":null},{"email":"octocat@github.com","verified":true,"primary":true,"visibility":"private"}]`
)

func newGitHubStub(t testing.TB) *githubStub {
	t.Helper()
	s := &githubStub{Provider: stubprovider.New(t), codes: map[string]string{}, tokens: map[string]bool{stubAccessToken: true}, user: octocat, emails: octocatEmails}
	s.HandleFunc("POST /login/oauth/access_token", s.token)
	s.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		s.api(w, r, func() (string, *stubprovider.Answer) { return s.user, nil })
	})
	s.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		s.api(w, r, func() (string, *stubprovider.Answer) { return s.emails, s.emailErr })
	})
	s.HandleFunc("GET /user/orgs", func(w http.ResponseWriter, r *http.Request) {
		s.api(w, r, func() (string, *stubprovider.Answer) {
			if s.orgsErr != nil {
				return "", s.orgsErr
			}
			body, link := s.orgPage(r)
			if link != "" {
				w.Header().Set("Link", link)
			}
			return body, nil
		})
	})
	return s
}

// orgPage is one page of GET /user/orgs (per_page at most 100, 30 by default;
// page from 1), each organization as GitHub describes one, and its Link header
// as GitHub writes it (prev, next, last, first: those that exist, none for a
// single page). Called under s.mu.
func (s *githubStub) orgPage(r *http.Request) (body, link string) {
	if s.orgsBody != "" {
		return s.orgsBody, ""
	}
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	var list []string
	for i := (page - 1) * per; i < len(s.orgs) && i < page*per; i++ {
		login := s.orgs[i]
		list = append(list, fmt.Sprintf(`{"login":%q,"id":%d,"node_id":"MDEyOk9yZ2FuaXphdGlvbjE=","url":"https://api.github.com/orgs/%s","avatar_url":"https://github.com/images/error/octocat_happy.gif","description":null}`, login, stubOrgID(login, i), login))
	}
	last := max(1, (len(s.orgs)+per-1)/per)
	var links []string
	rel := func(name string, p int) {
		links = append(links, fmt.Sprintf(`<http://%s%s?per_page=%d&page=%d>; rel="%s"`, r.Host, r.URL.Path, per, p, name))
	}
	if page > 1 {
		rel("prev", page-1)
	}
	if page < last {
		rel("next", page+1)
		rel("last", last)
	}
	if page > 1 {
		rel("first", 1)
	}
	return "[" + strings.Join(list, ",") + "]", strings.Join(links, ", ")
}

// approve is what GitHub does when the user approves the authorization URL
// authURL: a one-time code for the scope the URL asks (which the user could
// have edited on the way).
func (s *githubStub) approve(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		panic(err)
	}
	return s.issueCode(u.Query().Get("scope"))
}

// issueCode is a one-time code for scope (space-separated, as asked).
func (s *githubStub) issueCode(scope string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "code-" + strings.Repeat("7", len(s.codes)+1)
	s.codes[code] = strings.Join(strings.Fields(scope), ",")
	return code
}

func (s *githubStub) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	f := r.PostForm
	if f.Get("client_id") != stubClientID || f.Get("client_secret") != stubClientSecret {
		io.WriteString(w, "error=incorrect_client_credentials&error_description=The+client_id+and%2For+client_secret+passed+are+incorrect.&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps%2Fmanaging-oauth-apps%2Ftroubleshooting-oauth-app-access-token-request-errors%2F%23incorrect-client-credentials")
		return
	}
	s.mu.Lock()
	scope, valid := s.codes[f.Get("code")]
	delete(s.codes, f.Get("code"))
	s.mu.Unlock()
	if !valid {
		io.WriteString(w, "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps%2Fmanaging-oauth-apps%2Ftroubleshooting-oauth-app-access-token-request-errors%2F%23bad-verification-code")
		return
	}
	// GitHub answers with the scopes granted, comma-separated.
	io.WriteString(w, "access_token="+stubAccessToken+"&scope="+url.QueryEscape(scope)+"&token_type=bearer")
}

// api answers as GitHub's REST API does: current (called under s.mu) gives the
// body for a known token, or the failure to answer with whoever asks.
func (s *githubStub) api(w http.ResponseWriter, r *http.Request, current func() (body string, failure *stubprovider.Answer)) {
	s.mu.Lock()
	answer, failure := current()
	auth := r.Header.Get("Authorization")
	_, token, _ := strings.Cut(auth, " ")
	known := s.tokens[token]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case failure != nil:
		failure.ServeHTTP(w, r)
	case r.Header.Get("User-Agent") == "":
		// GitHub refuses requests without a User-Agent.
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.")
	case !known:
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
	default:
		io.WriteString(w, answer)
	}
}

func (s *githubStub) set(f func(*githubStub)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// config is an instance configuration pointing at the stub.
func (s *githubStub) config(extra map[string]any) map[string]any {
	c := map[string]any{
		"clientId":     stubClientID,
		"clientSecret": stubClientSecret,
		"baseUrl":      s.URL(),
		"apiUrl":       s.URL(),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// stubOrgID is an organization's id: acme's is the one the operators' guide's
// example admits (docs/mapping/github-organizations), the others follow their
// place in the list.
func stubOrgID(login string, i int) int {
	if login == "acme" {
		return 1234
	}
	return 100000 + i
}
