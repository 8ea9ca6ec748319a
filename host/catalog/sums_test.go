package catalog

import (
	"os"
	"path/filepath"
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
		// A line past any digest and name: named with its number, not a
		// reader's "token too long".
		{digest + "  a\n" + digest + "  " + strings.Repeat("b", 70<<10), "line 2: longer than 4096 bytes"},
	} {
		if _, err := ParseSums("SHA256SUMS", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSums(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A SHA256SUMS of megabytes is refused, named, before it is read whole.
func TestSumsFileIsBounded(t *testing.T) {
	dir := t.TempDir()
	line := strings.Repeat("0f", 32) + "  idplug-connector-a\n"
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Repeat("# padding\n", (maxSumsSize/10)+1)+line), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSums(dir); err == nil || !strings.Contains(err.Error(), "more than the 1048576 a list of plugins takes") {
		t.Fatalf("a SHA256SUMS over 1 MiB: %v", err)
	}
}
