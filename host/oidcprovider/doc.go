// Package oidcprovider makes idplug an OpenID Provider in front of its
// connectors: any app (openid-client, @logto/next, go-oidc) or identity server
// that accepts a generic OpenID Connect upstream signs users in through
// idplug's connector instances with the standard authorization code flow.
//
// The protocol (request parsing, redirect URI and client checks, discovery,
// ID token building, the endpoints' wire format) is the OpenID-certified
// github.com/zitadel/oidc/v3 op package, through its Server API, which lets this
// package replace single endpoints where the library leaves a gap: PKCE S256
// required of public clients and checked on every exchange, RFC 9207 iss in
// every authorization response, the client's registered authentication method
// enforced, no jwt-bearer grant, single-use codes and rotated refresh tokens
// across replicas, and per-client ID token algorithms.
//
// State lives in the store, so replicas share everything: pending
// authorization requests and codes (store.Sessions, by hashed id), grants
// (store.Grants: a code is exchanged once; a refresh token used twice revokes
// its grant) and the signing keys (store.SigningKeys, sealed under
// session_keys). Access and refresh tokens are sealed and self-contained, and
// honoured only while their grant lives. The browser signs in through idplug's
// own routes (Browser), so the provider sees only who signed in with which
// connector.
package oidcprovider
