package process

import (
	"encoding/json"
	"fmt"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
)

// A plugin's answer carries values the wire does not check but the host must
// write as JSON (the /v1 answers, the sessions and records made of a profile):
// rawData is bytes, an expiry any timestamp. One the host cannot write is the
// plugin's fault, said as invalid_response when the answer is decoded, not an
// encoding failure later (an empty "200 OK" after the flow was spent). The
// metadata's JSON values (form items' defaults) are checked by checkMetadata.

// checkUserInfo checks the profile and tokens of a GetUserInfo answer.
func (p *Process) checkUserInfo(resp *connectorv1.GetUserInfoResponse) error {
	if raw := resp.GetUserInfo().GetRawDataJson(); len(raw) > 0 && !json.Valid(raw) {
		return p.invalidResponse("GetUserInfo", "a rawData that is not JSON")
	}
	return p.checkTokens("GetUserInfo", resp.GetTokens())
}

// checkTokens checks a token set's expiry: JSON (RFC 3339) writes years 1 to
// 9999 only.
func (p *Process) checkTokens(method string, t *connectorv1.TokenSet) error {
	if at := t.GetExpiresAt(); at != nil {
		if err := at.CheckValid(); err != nil {
			return p.invalidResponse(method, fmt.Sprintf("a token expiry the host cannot write (%v)", err))
		}
	}
	return nil
}

func (p *Process) invalidResponse(method, what string) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeInvalidResponse, Message: fmt.Sprintf("plugin %s answered %s with %s", p.name, method, what)}
}
