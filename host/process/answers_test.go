package process

import (
	"context"
	"strings"
	"testing"
	"time"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// answering is a plugin connection that answers GetUserInfo and RefreshTokens
// with what it is given.
type answering struct {
	connectorv1.ConnectorServiceClient
	userInfo *connectorv1.GetUserInfoResponse
	tokens   *connectorv1.RefreshTokensResponse
}

func (a answering) GetUserInfo(context.Context, *connectorv1.GetUserInfoRequest, ...grpc.CallOption) (*connectorv1.GetUserInfoResponse, error) {
	return a.userInfo, nil
}

func (a answering) RefreshTokens(context.Context, *connectorv1.RefreshTokensRequest, ...grpc.CallOption) (*connectorv1.RefreshTokensResponse, error) {
	return a.tokens, nil
}

// What a plugin answers that the host cannot write as JSON (a rawData that is
// not JSON: the wire carries it as bytes; an expiry past year 9999) is the
// plugin's invalid_response, not a profile every answer then fails to encode;
// so is what the store should not keep (megabytes of profile or tokens).
func TestAnswersTheHostCannotWriteOrKeepAreInvalid(t *testing.T) {
	far := timestamppb.New(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	soon := timestamppb.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	for name, tc := range map[string]struct {
		userInfo *connectorv1.GetUserInfoResponse
		tokens   *connectorv1.TokenSet
		invalid  bool
	}{
		"sound":             {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", RawDataJson: []byte(`{"a":1}`)}, Tokens: &connectorv1.TokenSet{AccessToken: "at", ExpiresAt: soon}}, tokens: &connectorv1.TokenSet{AccessToken: "at", ExpiresAt: soon}},
		"no rawData":        {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u"}}, tokens: &connectorv1.TokenSet{AccessToken: "at"}},
		"rawData not JSON":  {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", RawDataJson: []byte(`{"a":`)}}, invalid: true},
		"expiry after 9999": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u"}, Tokens: &connectorv1.TokenSet{AccessToken: "at", ExpiresAt: far}}, tokens: &connectorv1.TokenSet{AccessToken: "at", ExpiresAt: far}, invalid: true},
		"expiry before 1":   {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u"}, Tokens: &connectorv1.TokenSet{ExpiresAt: &timestamppb.Timestamp{Seconds: -62135596801}}}, invalid: true},
		// What the store keeps of an answer is bounded: a plugin wrote megabytes
		// at every sign-in it finished.
		"rawData of 2 MiB": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", RawDataJson: []byte(`"` + strings.Repeat("a", 2<<20) + `"`)}}, invalid: true},
		"access token of 1 MiB": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u"}, Tokens: &connectorv1.TokenSet{AccessToken: strings.Repeat("a", 1<<20)}},
			tokens: &connectorv1.TokenSet{AccessToken: strings.Repeat("a", 1<<20)}, invalid: true},
		"refresh token of 1 MiB": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u"}, Tokens: &connectorv1.TokenSet{AccessToken: "at", RefreshToken: strings.Repeat("r", 1<<20)}},
			tokens: &connectorv1.TokenSet{AccessToken: "at", RefreshToken: strings.Repeat("r", 1<<20)}, invalid: true},
		"a name of 1 MiB":    {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", Name: proto.String(strings.Repeat("n", 1<<20))}}, invalid: true},
		"an avatar of 1 MiB": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", Avatar: proto.String("data:" + strings.Repeat("a", 1<<20))}}, invalid: true},
		"an email of 1 MiB":  {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", Email: proto.String(strings.Repeat("e", 1<<20) + "@x.test")}}, invalid: true},
		"a phone of 1 MiB":   {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", Phone: proto.String(strings.Repeat("1", 1<<20))}}, invalid: true},
		"a long but real profile": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", Name: proto.String(strings.Repeat("n", 2<<10)),
			Avatar: proto.String("https://avatars.example.test/" + strings.Repeat("a", 4<<10)), Email: proto.String("ann@example.test"), Phone: proto.String("+15550100")}}},
		"a large but real token set": {userInfo: &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "u", RawDataJson: []byte(`"` + strings.Repeat("a", 500<<10) + `"`)},
			Tokens: &connectorv1.TokenSet{AccessToken: strings.Repeat("a", 8<<10), IdToken: strings.Repeat("i", 4<<10), Scope: "openid profile email", TokenType: "Bearer"}},
			tokens: &connectorv1.TokenSet{AccessToken: strings.Repeat("a", 8<<10)}},
	} {
		t.Run(name, func(t *testing.T) {
			p, c := newIdle(t, Options{})
			c.rpc = answering{userInfo: tc.userInfo, tokens: &connectorv1.RefreshTokensResponse{Tokens: tc.tokens}}
			res, err := p.UserInfo(t.Context(), inst, sdk.Session{}, nil)
			switch {
			case tc.invalid && (err == nil || sdkError(t, err).Code != sdk.CodeInvalidResponse):
				t.Errorf("UserInfo = %+v, %v; want invalid_response", res, err)
			case !tc.invalid && err != nil:
				t.Errorf("UserInfo: %v", err)
			}
			if tc.tokens == nil {
				return
			}
			ts, err := p.RefreshTokens(t.Context(), inst, "rt")
			switch {
			case tc.invalid && (err == nil || sdkError(t, err).Code != sdk.CodeInvalidResponse):
				t.Errorf("RefreshTokens = %+v, %v; want invalid_response", ts, err)
			case !tc.invalid && err != nil:
				t.Errorf("RefreshTokens: %v", err)
			}
		})
	}
}

// An answer that leaves out what the host reads (a plugin written without the
// SDK, which refuses to send such answers) is the plugin's invalid_response:
// a GetUserInfo without a profile had been read through a nil pointer (the
// request's handler panicked, the sign-in spent and nobody told), and a
// RefreshTokens of no tokens and no error had reached the vault as a nil set,
// which ended idplug's process.
func TestAnswersMissingWhatTheHostReadsAreInvalid(t *testing.T) {
	p, c := newIdle(t, Options{})
	for name, resp := range map[string]*connectorv1.GetUserInfoResponse{
		"no profile":           {},
		"no profile, tokens":   {Tokens: &connectorv1.TokenSet{AccessToken: "at"}},
		"a profile without id": {UserInfo: &connectorv1.UserInfo{Name: proto.String("Ann")}},
	} {
		c.rpc = answering{userInfo: resp}
		if res, err := p.UserInfo(t.Context(), inst, sdk.Session{}, nil); err == nil || sdkError(t, err).Code != sdk.CodeInvalidResponse {
			t.Errorf("%s: UserInfo = %+v, %v; want invalid_response", name, res, err)
		}
	}
	for name, resp := range map[string]*connectorv1.RefreshTokensResponse{
		"no token set":       {},
		"no access token":    {Tokens: &connectorv1.TokenSet{RefreshToken: "rt2", ExpiresAt: timestamppb.Now()}},
		"an empty token set": {Tokens: &connectorv1.TokenSet{}},
	} {
		c.rpc = answering{tokens: resp}
		if ts, err := p.RefreshTokens(t.Context(), inst, "rt"); err == nil || sdkError(t, err).Code != sdk.CodeInvalidResponse ||
			!strings.Contains(err.Error(), "RefreshTokens") {
			t.Errorf("%s: RefreshTokens = %+v, %v; want invalid_response naming the call", name, ts, err)
		}
	}
}
