package main

import (
	"encoding/json"
	"testing"
)

// TestRawDataNumbersPastTwoToThe53: the bridge refused a profile whose id is a
// number past 2^53 that JavaScript read without its last digits, but the same loss
// in rawData passed silently: a provider's {"org":9007199254740993} reached idplug
// as 9007199254740992, another org's number. rawData is what a mapping's `raw`
// reads, and idplug otherwise keeps whole numbers exact there (operators.md,
// "Mapping the profile"): an `allow` rule such as raw.org == 9007199254740992 let
// in the users of org ...993 too, through a Logto connector only. The bridge now
// writes such numbers back with the digits the provider sent (or leaves them out
// where those are not known).
func TestRawDataNumbersPastTwoToThe53(t *testing.T) {
	o := startOAuthStub(t, nil, 0)
	o.userinfo.Store(`{"id":"1","org":9007199254740993,"small":583231,"a":18014398509481985,"b":18014398509481983}`)
	res, _, err := o.signIn(t)
	if err != nil {
		t.Fatalf("the sign-in: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(res.UserInfo.RawData, &raw); err != nil {
		t.Fatalf("rawData %s: %v", res.UserInfo.RawData, err)
	}
	if string(raw["small"]) != "583231" {
		t.Errorf("rawData's small = %s; want 583231", raw["small"])
	}
	if org := raw["org"]; string(org) != "9007199254740993" {
		t.Errorf("rawData's org = %s; the provider sent 9007199254740993: a number read inexactly passes as another org's", org)
	}
	// Two literals read as one number: which one a value is, is lost; both
	// are left out rather than passed on as the other.
	if a, b := raw["a"], raw["b"]; a != nil || b != nil {
		t.Errorf("rawData's a = %s, b = %s; two literals read as one number must be left out", a, b)
	}
}
