package sdk

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
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
