// Package stubprovider is an identity provider's HTTP face for tests: a server on
// the loopback interface whose routes a test sets, which answers what the test says
// (a status, headers and a body, or any handler) and records every request it gets.
//
// It is for the answers a standards-following provider never gives: an OAuth error
// under HTTP 200, a form-encoded token answer, an HTML error page, a forged ID
// token, an endpoint that stalls or never stops talking. A sign-in that only needs a
// provider that behaves runs against a real one (internal/oidctest).
package stubprovider
