package process_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/server"
	"github.com/idplug/idplug/sdk"
)

// sdkCodes are the codes the SDK declares (every ErrorCode constant of package
// sdk): the connector vocabulary a plugin may answer with.
func sdkCodes(t *testing.T) map[sdk.ErrorCode]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "sdk", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[sdk.ErrorCode]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if typ, ok := spec.Type.(*ast.Ident); !ok || typ.Name != "ErrorCode" {
				return true
			}
			for _, v := range spec.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					codes[sdk.ErrorCode(s)] = true
				}
			}
			return true
		})
	}
	if !codes[sdk.CodeGeneral] || !codes[sdk.CodeProviderTimeout] {
		t.Fatalf("found no sdk codes: %v", codes)
	}
	return codes
}

// The codes a plugin may not give are exactly the API's codes that are not
// the SDK's: a code the host or its HTTP layer adds must be added to the list
// (or a plugin could claim it), and a code of the SDK's must not be on it (or
// connectors could not give it).
func TestHostCodesAreTheAPIsLessTheSDKs(t *testing.T) {
	own := sdkCodes(t)
	for _, code := range server.ErrorCodes() {
		if want := !own[code]; process.HostCode(code) != want {
			t.Errorf("HostCode(%s) = %v; want %v (a code of the API that is %s)", code, !want, want,
				map[bool]string{true: "the host's own", false: "the sdk's"}[want])
		}
	}
	for code := range own {
		if process.HostCode(code) {
			t.Errorf("HostCode(%s): the sdk's code is taken from plugins", code)
		}
	}
}
