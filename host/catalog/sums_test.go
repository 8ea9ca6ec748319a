package catalog

import (
	"strings"
	"testing"
)

func TestParseSums(t *testing.T) {
	digest := strings.Repeat("0f", 32)
	sums, err := ParseSums("SHA256SUMS", []byte("# built by make\n"+digest+"  idplug-connector-a\n"+digest+" *idplug-connector-b\n\n"))
	if err != nil || len(sums) != 2 || sums["idplug-connector-a"][0] != 0x0f || sums["idplug-connector-b"] == nil {
		t.Fatalf("sums = %v, err = %v", sums, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"nothex  idplug-connector-a", `line 1: want "<sha256 hex>  <file>"`},
		{digest[:10] + "  idplug-connector-a", "line 1"},
		{digest, "line 1"},
		{digest + "  dir/idplug-connector-a", "list file names only"},
		{digest + "  a\n" + digest + "  a", "line 2: a is listed twice"},
	} {
		if _, err := ParseSums("SHA256SUMS", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSums(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}
}
