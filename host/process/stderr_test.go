package process

import (
	"io"
	"strings"
	"testing"
)

func TestSaneStderr(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // past the checked length: passed as it is
	in := "text line\n" +
		`{"@message":1,"@level":"warn","k":[1,2]}` + "\n" +
		`{"@message":"fine","@level":"info"}` + "\n" +
		`{"@message":1` + "\n" + // not JSON: go-plugin logs it as text
		`{"@message":` + long + "\n" +
		`{"@level":null}` // the last line, without a newline
	out, err := io.ReadAll(newSaneStderr(io.NopCloser(strings.NewReader(in))))
	if err != nil {
		t.Fatal(err)
	}
	want := "text line\n" +
		`{"@level":"warn","@message":"1","k":[1,2]}` + "\n" +
		`{"@message":"fine","@level":"info"}` + "\n" +
		`{"@message":1` + "\n" +
		`{"@message":` + long + "\n" +
		`{"@level":"null"}` + "\n"
	if string(out) != want {
		t.Errorf("got %.300q\nwant %.300q", out, want)
	}
}
