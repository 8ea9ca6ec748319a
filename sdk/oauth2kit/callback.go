package oauth2kit

import (
	"crypto/subtle"

	"github.com/idplug/idplug/sdk"
)

// CallbackCheck is what a callback must match.
type CallbackCheck struct {
	// State is the state the flow started with, from the session.
	State string
	// Issuer, when set, is the issuer identifier the callback's iss parameter must
	// equal (RFC 9207). A callback without iss is then refused too.
	Issuer string
}

// ReadCallback checks the parameters the provider sent the browser back with and
// returns the authorization code. The checks run in this order:
//
//  1. state must equal the session's (compared in constant time). It comes first so
//     that nothing a forged callback says, not even its error, is acted upon.
//  2. iss must equal the expected issuer, when one is configured (RFC 9207).
//  3. error means the provider refused: authorization_failed, with error,
//     error_description and error_uri in the details.
//  4. code must be present.
//
// Every error is an *sdk.Error; messages never repeat the state or the code.
func ReadCallback(params map[string]string, want CallbackCheck) (string, error) {
	if err := checkState(params["state"], want.State); err != nil {
		return "", err
	}
	if err := checkIssuer(params["iss"], want.Issuer); err != nil {
		return "", err
	}
	if code := params["error"]; code != "" {
		oe := oauthError{code: cleanText(code), description: cleanText(params["error_description"]), uri: cleanText(params["error_uri"])}
		e := sdk.Errorf(sdk.CodeAuthorizationFailed, "the provider did not authorize the sign-in: %s", oe.code)
		if oe.description != "" {
			e.Message += " (" + oe.description + ")"
		}
		for k, v := range oe.details() {
			if k != "status" {
				e.WithDetail(k, v)
			}
		}
		return "", e
	}
	code := params["code"]
	if code == "" {
		return "", sdk.Errorf(sdk.CodeInsufficientRequestParameters, "the callback has no code parameter")
	}
	return code, nil
}

func checkState(got, want string) error {
	switch {
	case want == "":
		return sdk.Errorf(sdk.CodeInvalidRequestParameters, "state mismatch: the session has no state; start the sign-in again")
	case got == "":
		return sdk.Errorf(sdk.CodeInvalidRequestParameters, "state mismatch: the callback has no state parameter")
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return sdk.Errorf(sdk.CodeInvalidRequestParameters, "state mismatch: the callback's state is not the one this sign-in started with")
	}
	return nil
}

func checkIssuer(got, want string) error {
	switch {
	case want == "":
		return nil
	case got == "":
		return sdk.Errorf(sdk.CodeInvalidRequestParameters,
			"the callback has no iss parameter, but an issuer is configured (RFC 9207); set issuer only for providers that send iss").
			WithDetail("expectedIssuer", want)
	case got != want:
		return sdk.Errorf(sdk.CodeInvalidRequestParameters,
			"the callback's iss %q is not the configured issuer %q (RFC 9207 mix-up protection)", cleanText(got), want).
			WithDetail("iss", cleanText(got)).
			WithDetail("expectedIssuer", want)
	}
	return nil
}
