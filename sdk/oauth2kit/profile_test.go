package oauth2kit

import (
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func str(s string) *string { return &s }

func TestMapProfile(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		m    ProfileMap
		want sdk.UserInfo
	}{
		{
			name: "defaults",
			raw:  `{"id":"u1","name":"Ann","avatar":"https://a/p.png","email":"ann@example.com","phone":"+100"}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "u1", Name: str("Ann"), Avatar: str("https://a/p.png"), Email: str("ann@example.com"), Phone: str("+100")},
		},
		{
			name: "verified email is mapped",
			raw:  `{"id":"u1","email":"ann@example.com","email_verified":true}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified"},
			want: sdk.UserInfo{ID: "u1", Email: str("ann@example.com")},
		},
		{
			name: "verified email as the string true",
			raw:  `{"id":"u1","email":"ann@example.com","user":{"email_verified":"true"}}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "user.email_verified"},
			want: sdk.UserInfo{ID: "u1", Email: str("ann@example.com")},
		},
		{
			name: "unverified email is left out",
			raw:  `{"id":"u1","email":"ann@example.com","email_verified":false}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified"},
			want: sdk.UserInfo{ID: "u1"},
		},
		{
			name: "email without its verification field is left out",
			raw:  `{"id":"u1","email":"ann@example.com"}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified"},
			want: sdk.UserInfo{ID: "u1"},
		},
		{
			name: "an Else's verification field is tried",
			raw:  `{"id":"u1","email":"ann@example.com","verified":true}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", Else: &ProfileMap{EmailVerified: "verified"}},
			want: sdk.UserInfo{ID: "u1", Email: str("ann@example.com")},
		},
		{
			// Another level's verification field vouches for its own email only.
			name: "an Else's verification field does not vouch for an earlier email",
			raw:  `{"id":"u1","email":"ann@example.com","upn":"ann@corp.example","upn_verified":true}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", Else: &ProfileMap{Email: "upn", EmailVerified: "upn_verified"}},
			want: sdk.UserInfo{ID: "u1"},
		},
		{
			name: "an earlier verification field does not vouch for an Else's email",
			raw:  `{"id":"u1","email_verified":true,"upn":"ann@corp.example","upn_verified":false}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", Else: &ProfileMap{Email: "upn", EmailVerified: "upn_verified"}},
			want: sdk.UserInfo{ID: "u1"},
		},
		{
			name: "an Else's email verified by its own field",
			raw:  `{"id":"u1","email_verified":false,"upn":"ann@corp.example","upn_verified":true}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", Else: &ProfileMap{Email: "upn", EmailVerified: "upn_verified"}},
			want: sdk.UserInfo{ID: "u1", Email: str("ann@corp.example")},
		},
		{
			name: "an Else's email without a field of its own is checked by the earlier one",
			raw:  `{"id":"u1","public_email":"ann@example.com","email_verified":false}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", Else: &ProfileMap{Email: "public_email"}},
			want: sdk.UserInfo{ID: "u1"},
		},
		{
			name: "email confirmed at a time is mapped",
			raw:  `{"id":1,"email":"ann@example.com","confirmed_at":"2012-05-23T09:05:22Z"}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerifiedAt: "confirmed_at"},
			want: sdk.UserInfo{ID: "1", Email: str("ann@example.com")},
		},
		{
			name: "email confirmed at a unix time is mapped",
			raw:  `{"id":1,"email":"ann@example.com","confirmed_at":1337763922}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerifiedAt: "confirmed_at"},
			want: sdk.UserInfo{ID: "1", Email: str("ann@example.com")},
		},
		{
			name: "email not confirmed yet is left out",
			raw:  `{"id":1,"email":"ann@example.com","confirmed_at":null}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerifiedAt: "confirmed_at"},
			want: sdk.UserInfo{ID: "1"},
		},
		{
			name: "email confirmed at false, empty or zero is left out",
			raw:  `{"id":1,"email":"ann@example.com","a":false,"b":"","c":0}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerifiedAt: "a", Else: &ProfileMap{EmailVerifiedAt: "b", Else: &ProfileMap{EmailVerifiedAt: "c"}}},
			want: sdk.UserInfo{ID: "1"},
		},
		{
			name: "both fields named: both must say so",
			raw:  `{"id":1,"email":"ann@example.com","email_verified":true,"confirmed_at":null}`,
			m:    ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified", EmailVerifiedAt: "confirmed_at"},
			want: sdk.UserInfo{ID: "1"},
		},
		{
			name: "numeric id keeps every digit",
			raw:  `{"id":12345678901}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "12345678901"},
		},
		{
			name: "id beyond float64 precision",
			raw:  `{"id":123456789012345678901234567890}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "123456789012345678901234567890"},
		},
		{
			name: "exponent numbers become plain decimals",
			raw:  `{"id":1e6,"name":1.5E+1,"phone":2.5e-3}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "1000000", Name: str("15"), Phone: str("0.0025")},
		},
		{
			// Through a float64, ...891E+19 and ...890E+19 were one user.
			name: "exponent ids keep every digit",
			raw:  `{"id":1.2345678901234567891E+19,"name":9007199254740993e0,"phone":-12.5e-1}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "12345678901234567891", Name: str("9007199254740993"), Phone: str("-1.25")},
		},
		{
			name: "an exponent no id has is kept as written",
			raw:  `{"id":1e999999999}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "1e999999999"},
		},
		{
			name: "wrapped userinfo",
			raw:  `{"data":{"user":{"id":"w1","profile":{"display":"Wes"}}}}`,
			m:    ProfileMap{ID: "data.user.id", Name: "data.user.profile.display"},
			want: sdk.UserInfo{ID: "w1", Name: str("Wes")},
		},
		{
			name: "array indexes, dotted and bracketed",
			raw:  `{"id":"a1","emails":[{"value":"first@example.com"},{"value":"second@example.com"}],"photos":[{"url":"p0"}]}`,
			m:    ProfileMap{ID: "id", Email: "emails.1.value", Avatar: "photos[0].url"},
			want: sdk.UserInfo{ID: "a1", Email: str("second@example.com"), Avatar: str("p0")},
		},
		{
			name: "falsy values are kept",
			raw:  `{"id":0,"name":"","email":false,"phone":0}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "0", Name: str(""), Email: str("false"), Phone: str("0")},
		},
		{
			name: "null and missing are dropped",
			raw:  `{"id":"n1","name":null}`,
			m:    DefaultProfileMap(),
			want: sdk.UserInfo{ID: "n1"},
		},
		{
			name: "a top-level key with a dot is found as written",
			raw:  `{"user.id":"d1","user":{"id":"nested"}}`,
			m:    ProfileMap{ID: "user.id"},
			want: sdk.UserInfo{ID: "d1"},
		},
		{
			name: "out-of-range and non-numeric indexes are missing",
			raw:  `{"id":"i1","emails":["a"]}`,
			m:    ProfileMap{ID: "id", Email: "emails.1", Name: "emails.x", Phone: "emails.-1", Avatar: "emails.01"},
			want: sdk.UserInfo{ID: "i1"},
		},
		{
			name: "fallbacks fill a missing, null or empty field in order",
			raw:  `{"uid":7,"name":"","username":"ada","login":"ada-l","avatar":null,"picture":"p1","mail":"a@example.com"}`,
			m: ProfileMap{ID: "id", Name: "name", Avatar: "avatar", Email: "email", Else: &ProfileMap{
				ID: "uid", Name: "username", Avatar: "picture", Email: "emails.0", Else: &ProfileMap{Name: "login", Email: "mail"},
			}},
			want: sdk.UserInfo{ID: "7", Name: str("ada"), Avatar: str("p1"), Email: str("a@example.com")},
		},
		{
			name: "the field's own value wins over its fallbacks",
			raw:  `{"id":"f1","name":"Ada","username":"ada"}`,
			m:    ProfileMap{ID: "id", Name: "name", Else: &ProfileMap{Name: "username"}},
			want: sdk.UserInfo{ID: "f1", Name: str("Ada")},
		},
		{
			name: "every path empty keeps the empty string",
			raw:  `{"id":"f2","name":"","username":""}`,
			m:    ProfileMap{ID: "id", Name: "name", Else: &ProfileMap{Name: "username", Else: &ProfileMap{Name: "login"}}},
			want: sdk.UserInfo{ID: "f2", Name: str("")},
		},
		{
			name: "a fallback alone, without a path of the field's own",
			raw:  `{"id":"f3","nick":"n"}`,
			m:    ProfileMap{ID: "id", Else: &ProfileMap{Name: "nick"}},
			want: sdk.UserInfo{ID: "f3", Name: str("n")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MapProfile([]byte(tt.raw), tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.RawData) != tt.raw {
				t.Errorf("rawData = %s, want the whole object", got.RawData)
			}
			got.RawData = nil
			if describe(got) != describe(tt.want) {
				t.Errorf("profile = %s\nwant      %s", describe(got), describe(tt.want))
			}
		})
	}
}

func TestMapProfileErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		m         ProfileMap
		says      string
		path      string
	}{
		{"missing id names the path", `{"data":{"user":{}}}`, ProfileMap{ID: "data.user.id"}, `no value at "data.user.id"`, "data.user.id"},
		{"null id", `{"id":null}`, DefaultProfileMap(), `no value at "id"`, "id"},
		{"empty id", `{"id":""}`, DefaultProfileMap(), "empty id", "id"},
		{"object id", `{"id":{"v":1}}`, DefaultProfileMap(), "an object", "id"},
		{"boolean id", `{"id":true}`, DefaultProfileMap(), "a boolean", "id"},
		{"object where a string belongs", `{"id":"1","picture":{"data":{"url":"u"}}}`, ProfileMap{ID: "id", Avatar: "picture"}, "profileMap.avatar", "picture"},
		{"array at the top", `[{"id":1}]`, DefaultProfileMap(), "not a JSON object", ""},
		{"garbage", `<html>`, DefaultProfileMap(), "not valid JSON", ""},
		{"trailing garbage", `{"id":1} x`, DefaultProfileMap(), "not valid JSON", ""},
		{"a fallback reaching an object names its own path", `{"id":"1","name":null,"profile":{"n":"x"}}`,
			ProfileMap{ID: "id", Name: "name", Else: &ProfileMap{Name: "profile"}}, "profileMap.name", "profile"},
		{"no id anywhere names the id's path", `{"uid":""}`, ProfileMap{ID: "id", Else: &ProfileMap{ID: "uid"}}, `empty id at "uid"`, "uid"},
		{"an Else chain that loops ends", `{}`, loop(), `no value at "id"`, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MapProfile([]byte(tt.raw), tt.m)
			e := wantCode(t, err, sdk.CodeInvalidResponse)
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
			if tt.path != "" && e.Details["path"] != tt.path {
				t.Errorf("details = %v, want path %q", e.Details, tt.path)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"id", "data.user.id", "emails.0.value", "emails[0].value", "user-id"} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".id", "id.", "a..b", "[0]"} {
		if err := CheckPath(bad); err == nil {
			t.Errorf("CheckPath(%q) accepted", bad)
		}
	}
}

func describe(u sdk.UserInfo) string {
	f := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return "\"" + *p + "\""
	}
	return "id=" + u.ID + " name=" + f(u.Name) + " avatar=" + f(u.Avatar) + " email=" + f(u.Email) + " phone=" + f(u.Phone)
}

// loop is a ProfileMap whose Else chain comes back to itself.
func loop() ProfileMap {
	m := &ProfileMap{ID: "id"}
	m.Else = m
	return *m
}

// An email read from an Else deeper than the levels the verification check
// walks is left out unless verified: the check had found no level for it and
// let it through, unverified, past the EmailVerified of the level before.
func TestEmailOfADeepElseIsCheckedToo(t *testing.T) {
	m := ProfileMap{ID: "id", Email: "email", EmailVerified: "email_verified"}
	last := &m
	for range 17 {
		last.Else = &ProfileMap{Name: "name"}
		last = last.Else
	}
	last.Email = "alt"
	u, err := MapProfile([]byte(`{"id":"1","alt":"someone@example.com"}`), m)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != nil {
		t.Errorf("email = %q; want none: nothing says it is verified", *u.Email)
	}
}
