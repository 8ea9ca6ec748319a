package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// GitHub pages GET /user/orgs; the connector reads every page, up to a bound.
const (
	orgsPerPage = 100 // GitHub's maximum
	maxOrgPages = 10
)

// grantsOrgs checks that GitHub granted a scope that reads organizations
// (read:org, or write:org or admin:org, which include it). Without one, GET
// /user/orgs lists only the memberships a user made public: the scope is in the
// authorization URL, which the user can edit on the way, and a private member
// of an organization a mapping refuses would pass. GitHub answers with the
// scopes granted, comma-separated; a GitHub App's token names none.
func grantsOrgs(granted string) error {
	for s := range strings.FieldsFuncSeq(granted, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch s {
		case "read:org", "write:org", "admin:org":
			return nil
		}
	}
	return sdk.Errorf(sdk.CodeAuthorizationFailed,
		"GitHub did not grant read:org (granted: %q): the organizations cannot be read in full; sign in again and allow it (a GitHub App cannot: use an OAuth App)", granted)
}

// organizations lists the organizations the user belongs to (GET /user/orgs,
// every page, as GitHub's Link header announces them). Every way the list could
// be partial fails the sign-in rather than showing part of it, since a mapping
// that refuses the members of one organization must not let one in because it
// was left out: organizations GitHub held back for SAML single sign-on
// (X-GitHub-SSO), a next page that is not this list's, a Link header that
// cannot be read, and more than maxOrgPages pages.
func organizations(ctx context.Context, in *instance, accessToken string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for page := 1; ; page++ {
		raw, header, err := in.api.GetWithHeader(ctx, orgsPath(page), accessToken)
		if err != nil {
			return nil, err
		}
		if sso := header.Values("X-GitHub-SSO"); len(sso) > 0 {
			return nil, ssoPartial(sso)
		}
		orgs, err := orgList(raw)
		if err != nil {
			return nil, err
		}
		all = append(all, orgs...)
		next, err := nextOrgsPage(in.api.BaseURL, page, header.Values("Link"))
		if err != nil {
			return nil, err
		}
		if !next {
			return all, nil
		}
		if page == maxOrgPages {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the user belongs to more than %d organizations, more than the connector reads", maxOrgPages*orgsPerPage)
		}
	}
}

// orgsPath is the path of one page of GET /user/orgs.
func orgsPath(page int) string {
	return fmt.Sprintf("/user/orgs?per_page=%d&page=%d", orgsPerPage, page)
}

// orgList reads one page: a JSON array (null is not "no organization") of
// organizations that each have a login.
func orgList(raw []byte) ([]json.RawMessage, error) {
	var orgs []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &orgs) != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user/orgs answered something other than a list of organizations")
	}
	for _, o := range orgs {
		var org struct {
			Login string `json:"login"`
		}
		if json.Unmarshal(o, &org) != nil || org.Login == "" {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user/orgs listed an organization without a login")
		}
	}
	return orgs, nil
}

// ssoPartial is the error for a list GitHub marked with X-GitHub-SSO (its
// documented value is "partial-results; organizations=<ids>"): it left out
// organizations that enforce SAML single sign-on and for which the token is not
// authorized. Any value fails: the header says the list is not whole. The ids
// (digits and commas only, the provider's text otherwise dropped) go in
// Details["organizations"] for the operator.
func ssoPartial(values []string) *sdk.Error {
	e := sdk.Errorf(sdk.CodeAuthorizationFailed,
		"GitHub marked GET /user/orgs as partial (X-GitHub-SSO): it left out organizations that enforce SAML single sign-on, for which this sign-in is not authorized, so the organizations cannot be read in full; "+
			"the user starts a SAML session for each (https://github.com/orgs/<organization>/sso) and signs in again, and if that is not enough, revokes this app on GitHub (Settings, Applications) and signs in again to authorize it anew")
	for _, v := range values {
		for p := range strings.SplitSeq(v, ";") {
			name, ids, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), "organizations") && isOrgIDs(ids) {
				return e.WithDetail("organizations", ids)
			}
		}
	}
	return e
}

// isOrgIDs reports whether s is a list of organization ids as X-GitHub-SSO
// gives them: at most 64 numbers, comma-separated.
func isOrgIDs(s string) bool {
	ids := strings.Split(s, ",")
	if len(ids) > 64 {
		return false
	}
	for _, id := range ids {
		if len(id) == 0 || len(id) > 20 || strings.Trim(id, "0123456789") != "" {
			return false
		}
	}
	return true
}

// nextOrgsPage reads the Link header of page: whether it announces a next page
// (rel="next"). One is taken only as the page that follows on the list asked:
// the URL asked (the configured API's scheme, host and path) with page+1 in
// its query, which otherwise is the one asked. Anything else (two next links, a
// next link elsewhere, a header that cannot be read) fails the sign-in:
// whether more organizations follow cannot be known.
func nextOrgsPage(apiBase string, page int, header []string) (bool, error) {
	links, err := parseLinks(header)
	if err != nil {
		return false, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user/orgs answered a Link header that cannot be read (%v): whether more organizations follow is unknown", err)
	}
	var next []string
	for _, l := range links {
		if slices.Contains(l.rel, "next") {
			next = append(next, l.target)
		}
	}
	switch len(next) {
	case 0:
		return false, nil
	case 1:
	default:
		return false, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user/orgs announced %d next pages (Link rel=\"next\"): whether more organizations follow is unknown", len(next))
	}
	asked, err := url.Parse(strings.TrimRight(apiBase, "/") + orgsPath(page+1))
	if err != nil {
		return false, sdk.Errorf(sdk.CodeInvalidConfig, "the API URL %q is not usable", apiBase)
	}
	if why := notThe(asked, next[0]); why != "" {
		return false, sdk.Errorf(sdk.CodeInvalidResponse,
			"GET /user/orgs announced a next page (Link rel=\"next\") that is not the next page of the list asked (%s): the organizations cannot be read in full; if GitHub names another URL for its API than apiUrl, set apiUrl to it", why).
			WithDetail("differs", why)
	}
	return true, nil
}

// notThe says how the URL target differs from want ("another host"...), or is ""
// when it is want. Hosts compare without regard to case, with the scheme's
// default port made explicit; the query compares as parameters, in any order.
func notThe(want *url.URL, target string) string {
	u, err := url.Parse(target)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return "not an absolute URL"
	case u.User != nil:
		return "a URL with credentials"
	case !strings.EqualFold(u.Scheme, want.Scheme):
		return "another scheme"
	case !strings.EqualFold(hostPort(u), hostPort(want)):
		return "another host"
	case u.EscapedPath() != want.EscapedPath():
		return "another path"
	case u.Fragment != "" || u.RawFragment != "":
		return "a fragment"
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil || !maps.EqualFunc(q, want.Query(), slices.Equal[[]string]) {
		return "another query than the next page's"
	}
	return ""
}

// hostPort is u's host with its port, the scheme's default one when it has none.
func hostPort(u *url.URL) string {
	port := u.Port()
	switch {
	case port != "":
	case strings.EqualFold(u.Scheme, "http"):
		port = "80"
	default:
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// withOrganizations is GET /user's object with the list added as "organizations"
// (a name GET /user does not use), so mappings read raw.organizations.
func withOrganizations(user []byte, orgs []json.RawMessage) ([]byte, error) {
	list, err := json.Marshal(orgs)
	if err != nil {
		return nil, err
	}
	if orgs == nil {
		list = []byte("[]")
	}
	obj := bytes.TrimSpace(user)
	var fields map[string]json.RawMessage
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' || json.Unmarshal(obj, &fields) != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user answered something other than an object")
	}
	// Never two lists under one name, of which a mapping might read either.
	if _, ok := fields["organizations"]; ok {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user answered an organizations field of its own")
	}
	out := make([]byte, 0, len(obj)+len(list)+20)
	out = append(out, obj[:len(obj)-1]...)
	if len(bytes.TrimSpace(obj[1:len(obj)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"organizations":`...)
	out = append(out, list...)
	return append(out, '}'), nil
}
