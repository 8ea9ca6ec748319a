package oauth2kit

import (
	"context"
	"net/http"
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// RevocationEndpoint revokes tokens (RFC 7009), authenticating the client the
// way its token endpoint does.
type RevocationEndpoint struct {
	URL string
	// Token is the client's token endpoint: its client authentication, extra
	// parameters and HTTP client are used as they are.
	Token *TokenEndpoint
}

// Revoke asks the provider to revoke token; hint is "refresh_token",
// "access_token" or empty. A 200 answer is success, whatever the token was
// (RFC 7009 2.2: an invalid token is not an error).
func (e *RevocationEndpoint) Revoke(ctx context.Context, token, hint string) error {
	if token == "" {
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters, "no token was given to revoke")
	}
	params := url.Values{"token": {token}}
	if hint != "" {
		params.Set("token_type_hint", hint)
	}
	target, err := url.Parse(e.URL)
	if err != nil || target.Host == "" {
		return sdk.Errorf(sdk.CodeInvalidConfig, "the revocation endpoint %q is not a usable URL", e.URL)
	}
	t := e.Token
	// A token request's form, credentials and headers, sent to the revocation
	// endpoint instead (a JWT assertion's audience stays the token endpoint).
	req, form, err := t.newRequest(ctx, params, t.clock())
	if err != nil {
		return err
	}
	req.URL, req.Host = target, target.Host
	resp, err := t.HTTP.do(ctx, req, "revocation endpoint", t.Auth.ClientSecret, token, form.Get("client_assertion"))
	if err != nil {
		return err
	}
	if resp.status == http.StatusOK {
		return nil
	}
	fields, _ := decodeTokenFields(resp.body, FormatJSON)
	oe, _ := tokenErrorOf(resp, fields)
	var e2 *sdk.Error
	switch {
	case oe.code == "unsupported_token_type":
		e2 = sdk.Errorf(sdk.CodeNotImplemented, "the revocation endpoint answered %s: the provider does not revoke this kind of token", oe.summary())
	case oe.code != "":
		code, hint := classifyTokenError(oe, "revoke")
		e2 = sdk.Errorf(code, "the revocation endpoint answered %s", oe.summary())
		if hint != "" {
			e2.Message += ": " + hint
		}
	default:
		e2 = unexpectedAnswer("revocation endpoint", resp, "")
	}
	return redact(e2, resp.sent.forms()...)
}
