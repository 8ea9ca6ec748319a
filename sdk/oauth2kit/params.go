package oauth2kit

// protocolParams are the parameters this package sets itself in authorization and
// token requests. Extra parameters (a connector's customConfig) may never replace
// them: a customConfig that could set state or redirect_uri would let a bad
// configuration undo the protections they give.
var protocolParams = map[string]bool{
	"response_type":         true,
	"client_id":             true,
	"redirect_uri":          true,
	"state":                 true,
	"scope":                 true,
	"code_challenge":        true,
	"code_challenge_method": true,
	"code":                  true,
	"grant_type":            true,
	"code_verifier":         true,
	"client_secret":         true,
	"client_assertion":      true,
	"client_assertion_type": true,
	"refresh_token":         true,
}

// IsProtocolParam reports whether name is a parameter that extra parameters may not
// set. Names are compared as written: OAuth 2.0 parameter names are case-sensitive.
func IsProtocolParam(name string) bool { return protocolParams[name] }
