package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
// every page). A member of more than maxOrgPages pages of organizations is
// refused rather than shown with part of the list: a mapping that refuses the
// members of one organization must not let one in because it was left out.
func organizations(ctx context.Context, in *instance, accessToken string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for page := 1; page <= maxOrgPages; page++ {
		raw, err := in.api.Get(ctx, fmt.Sprintf("/user/orgs?per_page=%d&page=%d", orgsPerPage, page), accessToken)
		if err != nil {
			return nil, err
		}
		var orgs []json.RawMessage
		if err := json.Unmarshal(raw, &orgs); err != nil {
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
		all = append(all, orgs...)
		if len(orgs) < orgsPerPage {
			return all, nil
		}
	}
	return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the user belongs to more than %d organizations, more than the connector reads", maxOrgPages*orgsPerPage)
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
