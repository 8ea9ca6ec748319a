package oauth2kit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/idplug/idplug/sdk"
)

// UserInfoEndpoint fetches the signed-in user's profile with an access token.
type UserInfoEndpoint struct {
	URL string
	// Method is GET (when empty) or POST; either way the token goes in the
	// Authorization header, never in the URL.
	Method string
	HTTP   *HTTPClient
}

// Fetch returns the profile: the provider's JSON object, byte for byte.
//
// The token is always sent as "Bearer": RFC 6750 is the only token type userinfo
// endpoints accept without extra proof, and providers that answer "bearer" or no
// token_type at all mean it too.
func (e *UserInfoEndpoint) Fetch(ctx context.Context, accessToken string) ([]byte, error) {
	method := e.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL, nil)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "the userinfo endpoint %q is not a usable URL", e.URL)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := e.HTTP.do(ctx, req, "userinfo endpoint", accessToken)
	if err != nil {
		return nil, err
	}
	if resp.status < 200 || resp.status >= 300 {
		return nil, redact(userInfoError(resp), resp.sent.forms()...)
	}
	body := bytes.TrimSpace(resp.body)
	if !bytes.HasPrefix(body, []byte("{")) || !json.Valid(body) {
		return nil, unexpectedAnswer("userinfo endpoint", resp, "with a body that is not a JSON object")
	}
	return body, nil
}

// userInfoError reads RFC 6750 section 3's WWW-Authenticate error, and a JSON or
// form error body if there is one, so the operator sees all the provider said.
func userInfoError(r *response) *sdk.Error {
	oe := bearerError(r)
	var e *sdk.Error
	switch {
	case r.status == http.StatusUnauthorized || oe.code == "invalid_token":
		e = sdk.Errorf(sdk.CodeSocialAccessTokenInvalid, "the userinfo endpoint refused the access token (%s)", oe.summary())
	case oe.code == "insufficient_scope":
		e = sdk.Errorf(sdk.CodeInvalidConfig, "the userinfo endpoint wants more scope than the token has (%s): check scope", oe.summary())
	default:
		e = unexpectedAnswer("userinfo endpoint", r, "instead of a profile")
	}
	for k, v := range oe.details() {
		e.WithDetail(k, v)
	}
	return e
}

// bearerParam matches one auth-param of a WWW-Authenticate challenge.
var bearerParam = regexp.MustCompile(`(error|error_description|error_uri)="([^"]*)"`)

func bearerError(r *response) oauthError {
	oe := oauthError{status: r.status}
	for _, m := range bearerParam.FindAllStringSubmatch(r.header.Get("WWW-Authenticate"), -1) {
		setErrorField(&oe, m[1], r.text(m[2]))
	}
	if oe.code == "" {
		if fields, err := decodeTokenFields(r.body, sniffFormat(r.contentType, r.body)); err == nil {
			for _, k := range []string{"error", "error_description", "error_uri"} {
				setErrorField(&oe, k, r.text(textOf(fields[k])))
			}
		}
	}
	return oe
}

// setErrorField sets one field from text already made safe by response.text.
func setErrorField(oe *oauthError, key, value string) {
	switch key {
	case "error":
		oe.code = value
	case "error_description":
		oe.description = value
	case "error_uri":
		oe.uri = value
	}
}
