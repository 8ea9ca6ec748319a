package main

import (
	"reflect"
	"testing"
)

// TestParseLinks: Link header lines as RFC 8288 writes them: commas and
// semicolons inside <...> or a quoted string do not split, quoted strings
// unescape, relation types are lowercased and split at spaces, only a link's
// first rel counts, and a line that breaks the grammar is an error.
func TestParseLinks(t *testing.T) {
	got, err := parseLinks([]string{
		`<https://api.github.com/user/orgs?per_page=100&page=2>; rel="next", <https://api.github.com/user/orgs?per_page=100&page=5>; rel="last"`,
		` <https://x.example/a,b;c>;rel=NEXT ; title="x, \"y\"; z" ,, <https://x.example/>; rel="prev first"; rel="next"`,
		`<https://x.example/none>; anchor="#a"; hreflang=en`,
		``,
	})
	want := []link{
		{"https://api.github.com/user/orgs?per_page=100&page=2", []string{"next"}},
		{"https://api.github.com/user/orgs?per_page=100&page=5", []string{"last"}},
		{"https://x.example/a,b;c", []string{"next"}},
		{"https://x.example/", []string{"prev", "first"}},
		{"https://x.example/none", nil},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseLinks = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{
		`https://x.example/; rel="next"`,
		`<https://x.example/; rel="next"`,
		`<https://x.example/> rel="next"`,
		`<https://x.example/>; rel="next`,
		`<https://x.example/>; rel="next\`,
		`<https://x.example/>; ="next"`,
		`<https://x.example/>; rel=`,
		`<https://x.example/>; rel=next last`,
		`<https://x.example/>; rel="next" <https://y.example/>`,
	} {
		if got, err := parseLinks([]string{`<https://ok.example/>; rel="prev"`, bad}); err == nil {
			t.Errorf("parseLinks(%s) = %q, want an error", bad, got)
		}
	}
}
