package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

type decodeTarget struct {
	ClientID    string            `json:"clientId"`
	Scope       *string           `json:"scope"`
	StoreTokens bool              `json:"storeTokens"`
	Timeout     json.RawMessage   `json:"timeout"`
	Retries     int               `json:"retries"`
	Extra       map[string]string `json:"extra"`
	Hosts       []string          `json:"hosts"`
	Untagged    string
	Ignored     string `json:"-"`
}

func TestDecodeConfigRecordsEveryProblem(t *testing.T) {
	var cfg decodeTarget
	var p ConfigError
	raw := `{"clientID":"a","scope":null,"storeTokens":"yes","retries":1.5,"extra":[],"hosts":"h","Untagged":"u","Ignored":"x","timeout":{"s":1}}`
	if err := DecodeConfig([]byte(raw), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	want := []FieldError{
		{Field: "Ignored", Message: "unknown field"},
		{Field: "clientID", Message: "unknown field; did you mean clientId?"},
		{Field: "extra", Message: "must be a JSON object"},
		{Field: "hosts", Message: "must be a JSON array"},
		{Field: "retries", Message: "must be a whole number"},
		{Field: "storeTokens", Message: "must be true or false"},
	}
	if !reflect.DeepEqual(p.Fields, want) {
		t.Errorf("fields = %+v\nwant     %+v", p.Fields, want)
	}
	if cfg.Untagged != "u" || cfg.Scope != nil || string(cfg.Timeout) != `{"s":1}` {
		t.Errorf("decoded = %+v", cfg)
	}
}

// TestDecodeConfigHintsSnakeCase: keys written as other tools spell them get
// the key the connector reads.
func TestDecodeConfigHintsSnakeCase(t *testing.T) {
	var cfg decodeTarget
	var p ConfigError
	if err := DecodeConfig([]byte(`{"client_id":"a","store-tokens":true,"CLIENT_SCOPE":"x"}`), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	want := []FieldError{
		{Field: "CLIENT_SCOPE", Message: "unknown field"},
		{Field: "client_id", Message: "unknown field; did you mean clientId?"},
		{Field: "store-tokens", Message: "unknown field; did you mean storeTokens?"},
	}
	if !reflect.DeepEqual(p.Fields, want) {
		t.Errorf("fields = %+v\nwant     %+v", p.Fields, want)
	}
}

func TestDecodeConfigKeepsDefaultsAndDecodesValues(t *testing.T) {
	scope := "read:user"
	cfg := decodeTarget{ClientID: "default", Scope: &scope}
	var p ConfigError
	if err := DecodeConfig([]byte(`{"scope":"","storeTokens":true,"extra":{"a":"b"}}`), &cfg, &p); err != nil || p.Err() != nil {
		t.Fatalf("err = %v, problems = %v", err, p.Err())
	}
	if cfg.ClientID != "default" || cfg.Scope == nil || *cfg.Scope != "" || !cfg.StoreTokens || cfg.Extra["a"] != "b" {
		t.Errorf("decoded = %+v", cfg)
	}
}

func TestDecodeConfigRefusesWhatIsNotAnObject(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `"x"`, `1`, `{`, `{} {}`} {
		var cfg decodeTarget
		err := DecodeConfig([]byte(raw), &cfg, &ConfigError{})
		wantCode(t, err, CodeInvalidConfig)
	}
	var s string
	wantCode(t, DecodeConfig([]byte(`{}`), &s, &ConfigError{}), CodeGeneral)
	wantCode(t, DecodeConfig([]byte(`{}`), decodeTarget{}, &ConfigError{}), CodeGeneral)
}

func wantCode(t *testing.T, err error, code ErrorCode) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

type nestedTarget struct {
	ClientID string `json:"clientId"`
	Profile  struct {
		ID   string  `json:"id"`
		Name *string `json:"name"`
	} `json:"profileMap"`
	Options  *struct{ Prompt string } `json:"options"`
	Requests []struct {
		Method string `json:"method"`
	} `json:"requests"`
	Tenants map[string]struct {
		Admin bool `json:"admin"`
	} `json:"tenants"`
	Extra  map[string]string `json:"extra"`  // free-form
	Expiry time.Time         `json:"expiry"` // decodes itself
}

// DecodeConfig refuses unknown keys at every depth of a struct-typed field, with
// their path, and hints a key that differs only in case: json.Unmarshal would
// drop "idd" silently and read "ID" as "id".
func TestDecodeConfigChecksNestedObjects(t *testing.T) {
	var cfg nestedTarget
	cfg.Profile.ID = "sub" // a default
	var p ConfigError
	raw := `{"clientId":"a","profileMap":{"idd":"x","ID":"y","name":5},"options":{"prompt":"login"},
		"requests":[{"method":"GET"},{"Method":"POST","path":"/"},null],"tenants":{"t1":{"admin":true,"role":"x"}},
		"extra":{"anything":"goes"},"expiry":"2030-01-02T03:04:05Z"}`
	if err := DecodeConfig([]byte(raw), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	want := []FieldError{
		{Field: "options.prompt", Message: "unknown field; did you mean Prompt?"},
		{Field: "profileMap.ID", Message: "unknown field; did you mean id?"},
		{Field: "profileMap.idd", Message: "unknown field"},
		{Field: "profileMap.name", Message: "must be a string, not a number: put the value in quotes"},
		{Field: "requests[1].Method", Message: "unknown field; did you mean method?"},
		{Field: "requests[1].path", Message: "unknown field"},
		{Field: "tenants.t1.role", Message: "unknown field"},
	}
	if !reflect.DeepEqual(p.Fields, want) {
		t.Errorf("fields = %+v\nwant     %+v", p.Fields, want)
	}
	if cfg.ClientID != "a" || cfg.Profile.ID != "sub" || cfg.Options == nil || len(cfg.Requests) != 3 ||
		cfg.Requests[0].Method != "GET" || !cfg.Tenants["t1"].Admin || cfg.Extra["anything"] != "goes" || cfg.Expiry.Year() != 2030 {
		t.Errorf("decoded = %+v", cfg)
	}

	// A nested value of the wrong shape is named, and its siblings still decode.
	p = ConfigError{}
	if err := DecodeConfig([]byte(`{"profileMap":"id","requests":{},"tenants":[],"clientId":"b"}`), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	want = []FieldError{
		{Field: "profileMap", Message: "must be a JSON object"},
		{Field: "requests", Message: "must be a JSON array"},
		{Field: "tenants", Message: "must be a JSON object"},
	}
	if !reflect.DeepEqual(p.Fields, want) || cfg.ClientID != "b" {
		t.Errorf("fields = %+v\nwant     %+v; clientId %q", p.Fields, want, cfg.ClientID)
	}
}

// A nested struct whose keys encoding/json reads in ways the key check does
// not (an embedded struct's fields as its own, a ",string" number) decodes as
// json.Unmarshal decodes it, as before nested keys were checked.
func TestDecodeConfigNestedStructsJSONReadsItsOwnWay(t *testing.T) {
	type Base struct {
		URL string `json:"url"`
	}
	type inner struct {
		Base
		N int `json:"n,string"`
	}
	var cfg struct {
		In inner `json:"in"`
	}
	var p ConfigError
	if err := DecodeConfig([]byte(`{"in":{"url":"x","n":"5"}}`), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Fields) != 0 || cfg.In.URL != "x" || cfg.In.N != 5 {
		t.Errorf("problems %+v, decoded %+v", p.Fields, cfg)
	}
}

// A value of the wrong type decodes to nothing; the check that then finds the
// field empty must not add "is required" to "must be a string": one problem a
// field, the first.
func TestOneProblemAField(t *testing.T) {
	var cfg struct {
		ClientID string `json:"clientId"`
		Enabled  string `json:"enabled"`
	}
	var p ConfigError
	if err := DecodeConfig([]byte(`{"clientId":1234567890,"enabled":true}`), &cfg, &p); err != nil {
		t.Fatal(err)
	}
	if cfg.ClientID == "" {
		p.Add("clientId", "is required")
	}
	want := []FieldError{
		{Field: "clientId", Message: "must be a string, not a number: put the value in quotes"},
		{Field: "enabled", Message: "must be a string, not true or false: put the value in quotes"},
	}
	if !reflect.DeepEqual(p.Fields, want) {
		t.Errorf("fields = %+v\nwant     %+v", p.Fields, want)
	}
}

// DecodeConfig looks names up in a set, not in Fields one by one: a field keeps
// its first problem there too, whether it came through Add or was put in Fields
// directly, before the call or between two calls.
func TestOneProblemAFieldAmongMany(t *testing.T) {
	many := map[string]int{}
	for i := range 100 {
		many[fmt.Sprintf("key%d", i)] = i
	}
	raw, err := json.Marshal(many)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ClientID string `json:"clientId"`
	}
	var p ConfigError
	p.Add("key0", "first")
	p.Fields = append(p.Fields, FieldError{Field: "key99", Message: "put in Fields"})
	if err := DecodeConfig(raw, &cfg, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Fields) != len(many) {
		t.Fatalf("%d fields, want %d: a field was recorded twice", len(p.Fields), len(many))
	}
	if p.Fields[0].Message != "first" || p.Fields[1].Message != "put in Fields" {
		t.Errorf("fields begin %+v, want key0 and key99 with their first problems", p.Fields[:2])
	}
	p.Fields = append(p.Fields[:10], FieldError{Field: "key50", Message: "put in Fields"})
	if err := DecodeConfig(raw, &cfg, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Fields) != len(many) {
		t.Fatalf("%d fields after a second decode, want %d", len(p.Fields), len(many))
	}
	p.Add("key7", "again")
	for _, f := range p.Fields {
		if f.Message == "again" || f.Field == "key50" && f.Message != "put in Fields" {
			t.Errorf("%s lost its first problem: %+v", f.Field, f)
		}
	}
}

// BenchmarkDecodeConfigManyUnknownKeys decodes a configuration of 5,000
// unknown keys, as the author kit's config/huge check does.
func BenchmarkDecodeConfigManyUnknownKeys(b *testing.B) {
	many := map[string]int{}
	for i := range 5000 {
		many[fmt.Sprintf("key%d", i)] = i
	}
	raw, err := json.Marshal(many)
	if err != nil {
		b.Fatal(err)
	}
	var cfg struct {
		ClientID string `json:"clientId"`
	}
	for b.Loop() {
		var p ConfigError
		if err := DecodeConfig(raw, &cfg, &p); err != nil {
			b.Fatal(err)
		}
		if len(p.Fields) != len(many) {
			b.Fatalf("%d field errors, want %d", len(p.Fields), len(many))
		}
	}
}
