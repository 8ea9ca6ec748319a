package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestREADMEListsEveryErrorCode keeps the README's table of error codes and statuses
// equal to ErrorCodes and statusFor: no code missing, none extra, no wrong status.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(string(readme), -1)
	listed := map[sdk.ErrorCode]int{}
	for _, r := range rows {
		status, _ := strconv.Atoi(r[2])
		listed[sdk.ErrorCode(r[1])] = status
	}
	for _, code := range ErrorCodes() {
		switch status, ok := listed[code]; {
		case !ok:
			t.Errorf("README.md's table of error codes lacks %s", code)
		case status != statusFor(code):
			t.Errorf("README.md gives %s status %d; it is %d", code, status, statusFor(code))
		}
		delete(listed, code)
	}
	for code := range listed {
		t.Errorf("README.md lists %s, which is no code of the API (ErrorCodes)", code)
	}
}

// TestOpenAPIDescribesEveryErrorCode checks openapi.json's ErrorCode: every code with
// its status, and no code the API does not have.
func TestOpenAPIDescribesEveryErrorCode(t *testing.T) {
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum   []sdk.ErrorCode       `json:"enum"`
					Status map[sdk.ErrorCode]int `json:"x-idplug-status"`
				} `json:"ErrorCode"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	ec := doc.Components.Schemas.ErrorCode
	for _, code := range ErrorCodes() {
		if !slices.Contains(ec.Enum, code) {
			t.Errorf("openapi.json's ErrorCode lacks %s", code)
		}
		if got := ec.Status[code]; got != statusFor(code) {
			t.Errorf("openapi.json gives %s status %d; it is %d", code, got, statusFor(code))
		}
	}
	for _, code := range ec.Enum {
		if !slices.Contains(ErrorCodes(), code) {
			t.Errorf("openapi.json's ErrorCode has %s, which is no code of the API", code)
		}
		if _, ok := ec.Status[code]; !ok {
			t.Errorf("openapi.json gives %s no status", code)
		}
	}
}
