package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// subject is stable per (connector target, upstream user id) and is not the
// upstream id itself: an app keys its users by it, and a connector instance
// renamed or moved to another plugin keeps its target, so its users keep theirs.
func subject(target, upstreamID string) string {
	sum := sha256.Sum256([]byte("idplug-sub\x00" + target + "\x00" + upstreamID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// identity is what a grant says of its user, carried sealed in its tokens.
type identity struct {
	Sub      string `json:"s"`
	Instance string `json:"i"`
	Name     string `json:"n,omitempty"`
	Email    string `json:"e,omitempty"`
	// EmailVerified is the provider's word; nil when it said nothing.
	EmailVerified *bool  `json:"ev,omitempty"`
	Picture       string `json:"p,omitempty"`
	Phone         string `json:"ph,omitempty"`
	AuthTime      int64  `json:"at"`
	// AuthMs is AuthTime to the millisecond, as connector removals are kept
	// (0 in tokens sealed before it was).
	AuthMs int64 `json:"am,omitempty"`
	// Claims are the mapping's (host/mapping refuses the names set here).
	Claims map[string]any `json:"c,omitempty"`
	// Target is the instance's target at the sign-in ("" in tokens sealed
	// before it was kept): a grant ends once its instance signs in at
	// another provider.
	Target string `json:"t,omitempty"`
	// Mapping is the fingerprint of the instance's profile mapping at the
	// sign-in (mapping.Fingerprint, "" for none; absent from tokens sealed
	// before it was kept): a grant ends once its instance maps profiles
	// another way, as the browser sessions mapped the old way do.
	Mapping *string `json:"mf,omitempty"`
	// Source is the sign-in's Login.Source ("" in tokens sealed before it
	// was kept, or for a sign-in that did not keep it): a grant ends once its
	// instance names another provider (Options.Sources).
	Source string `json:"src,omitempty"`
	// Issued is when the configuration of the replica that issued the grant
	// took effect (Unix ms; 0 in tokens sealed before it was kept): a
	// replica judges only grants issued under a configuration no newer than
	// its own (lapsed).
	Issued int64 `json:"ib,omitempty"`
	// Config is the digest of the issuing replica's configuration
	// (configPrint; "" in tokens sealed before it was kept): a replica on
	// the same one judges the grant whenever either started.
	Config string `json:"cf,omitempty"`
	// Stored says that a token carries only Sub, Instance, Target, Mapping, Source and the
	// sign-in's time: the whole identity was too large for it, and its grant
	// keeps it in the store (tokenIdentity).
	Stored bool `json:"r,omitempty"`
}

func identityOf(l Login, target string) identity {
	id := identity{Sub: subject(target, l.UserInfo.ID), Instance: l.Instance, Target: target, AuthTime: l.AuthTime.Unix(), AuthMs: l.AuthTime.UnixMilli(), Claims: l.Claims, Source: l.Source}
	mapping := l.Mapping
	id.Mapping = &mapping
	u := l.UserInfo
	if u.Name != nil {
		id.Name = *u.Name
	}
	if u.Email != nil {
		id.Email = *u.Email
	}
	if u.Avatar != nil && WebURL(*u.Avatar) {
		id.Picture = *u.Avatar
	}
	if u.Phone != nil {
		id.Phone = *u.Phone
	}
	id.EmailVerified = emailVerified(u.RawData, id.Email)
	return id
}

// WebURL says whether an avatar may go out as `picture`: apps put it in an
// img's src as it comes, so a provider's `javascript:` or `data:` value is
// dropped, as idplug's own page drops it.
func WebURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// emailVerified is the provider's email_verified, read from its own profile
// (OpenID Connect providers, and GitHub-like APIs that say so); nil when
// absent. Both names are read exactly, as the mapping reads them: a decoder
// folding case would take a user-named "Email_Verified" for the provider's.
// The flag vouches for the provider's email only: when the issued email is
// not the profile's "email" (the operator's mapping put another value there),
// it is false.
func emailVerified(raw json.RawMessage, email string) *bool {
	var fields map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &fields) != nil {
		return nil
	}
	var v any
	if json.Unmarshal(fields["email_verified"], &v) != nil {
		return nil
	}
	var verified bool
	switch b := v.(type) {
	case bool:
		verified = b
	case string: // some providers send "true"
		if b != "true" && b != "false" {
			return nil
		}
		verified = b == "true"
	default:
		return nil
	}
	var own string // the provider's email; "" when absent or not a string
	_ = json.Unmarshal(fields["email"], &own)
	if own != email {
		verified = false
	}
	return &verified
}

// fill writes the claims scopes allow into info: profile (name, picture),
// email, phone, and always sub and the connector.
func (id identity) fill(info *oidc.UserInfo, scopes []string) {
	info.Subject = id.Sub
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = id.Name
		info.Picture = id.Picture
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && id.Email != "" {
		info.Email = id.Email
		if id.EmailVerified != nil {
			info.AppendClaims("email_verified", *id.EmailVerified)
		}
	}
	if slices.Contains(scopes, oidc.ScopePhone) {
		info.PhoneNumber = id.Phone
	}
	info.AppendClaims("connector", id.Instance)
	for k, v := range id.Claims {
		info.AppendClaims(k, v)
	}
}
