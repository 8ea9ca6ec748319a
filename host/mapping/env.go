package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
)

// The CEL environment: CEL's standard library (which includes RE2's
// matches()) and optional values (raw.?name.orValue(raw.login)), and no
// extension that could build a value much larger than the cost it is charged
// for (the strings extension's replace() can, so it is left out).
var env = sync.OnceValues(func() (*cel.Env, error) {
	return newEnv(maxParseDepth, MaxExpressionLen)
})

func newEnv(parseDepth, exprLen int) (*cel.Env, error) {
	return cel.NewEnv(
		// profile holds only the fields the connector set: has(profile.name)
		// tells whether it did.
		cel.Variable("profile", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("raw", cel.DynType),
		cel.OptionalTypes(),
		cel.ParserRecursionLimit(parseDepth),
		cel.ParserExpressionSizeLimit(exprLen),
		cel.ASTValidators(
			cel.ValidateRegexLiterals(),
			cel.ValidateDurationLiterals(),
			cel.ValidateTimestampLiterals(),
			cel.ValidateComprehensionNestingLimit(maxNesting),
			profileFieldValidator{},
			regexCostValidator{},
		),
	)
}

// resultKind is what an expression must yield.
type resultKind int

const (
	kindString resultKind = iota // a profile field: a string, or null / an empty optional to leave it unset
	kindBool                     // allow
	kindJSON                     // a claim: anything JSON can hold
)

func (k resultKind) String() string {
	switch k {
	case kindString:
		return "a string (or null, or an optional, to leave the field unset)"
	case kindBool:
		return "a bool"
	}
	return "a JSON value (string, number, bool, list, map or null)"
}

// compileOne compiles one expression, recording its problems in ps.
func compileOne(field, key, src string, kind resultKind, ps *[]Problem) (program, bool) {
	report := func(line, col int, format string, args ...any) {
		*ps = append(*ps, Problem{Field: field, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(src) == "" {
		report(0, 0, "is empty; leave the key out to keep the connector's value")
		return program{}, false
	}
	if len(src) > MaxExpressionLen {
		report(0, 0, "is %d bytes, more than the limit of %d", len(src), MaxExpressionLen)
		return program{}, false
	}
	e, err := env()
	if err != nil {
		report(0, 0, "the expression environment failed: %v", err)
		return program{}, false
	}
	checked, iss := e.Compile(src)
	if iss.Err() != nil {
		for _, ce := range iss.Errors() {
			line, col := ce.Location.Line(), ce.Location.Column()+1
			if line <= 0 {
				line, col = 0, 0
			}
			report(line, col, "%s", ce.Message)
		}
		return program{}, false
	}
	if !kind.accepts(checked.OutputType()) {
		report(0, 0, "must yield %s, but yields %s", kind, checked.OutputType())
		return program{}, false
	}
	prg, err := newProgram(e, checked)
	if err != nil {
		report(0, 0, "%v", err)
		return program{}, false
	}
	return program{name: field, key: key, src: src, prg: prg, raw: referencesRaw(checked)}, true
}

// newProgram plans a checked expression under CostLimit and the meter (which
// also watches the caller's context and the deadline: see meter.go).
func newProgram(e *cel.Env, checked *cel.Ast) (cel.Program, error) {
	return e.Program(checked, cel.CostLimit(CostLimit), cel.CustomDecoratorV2(metered))
}

// accepts reports whether an expression of type t may yield what k needs;
// dyn passes, and its value is checked when it is known.
func (k resultKind) accepts(t *cel.Type) bool {
	switch t.Kind() {
	case types.DynKind, types.AnyKind:
		return true
	case types.ErrorKind:
		return false
	}
	// An optional yields its value, or leaves the field or claim out (an
	// element of a list, null): its value must fit, at any depth, or the
	// expression would fail at every sign-in.
	if k != kindBool && t.Kind() == types.OpaqueKind && t.TypeName() == "optional_type" && len(t.Parameters()) == 1 {
		return k.accepts(t.Parameters()[0])
	}
	switch k {
	case kindBool:
		return t.Kind() == types.BoolKind
	case kindString:
		return t.Kind() == types.StringKind || t.Kind() == types.NullTypeKind
	}
	switch t.Kind() {
	case types.BytesKind, types.DurationKind, types.TimestampKind, types.TypeKind, types.StructKind:
		return false
	case types.ListKind:
		return kindJSON.accepts(t.Parameters()[0])
	case types.MapKind:
		p := t.Parameters()
		return (p[0].Kind() == types.StringKind || p[0].Kind() == types.DynKind) && kindJSON.accepts(p[1])
	}
	return true
}

// referencesRaw reports whether the expression reads raw, so that a mapping
// that does not is spared decoding the provider's data.
func referencesRaw(a *cel.Ast) bool {
	idents := ast.MatchDescendants(ast.NavigateAST(a.NativeRep()), ast.KindMatcher(ast.IdentKind))
	for _, e := range idents {
		if e.AsIdent() == "raw" {
			return true
		}
	}
	return false
}

// profileFieldValidator refuses profile.<field> for a field the profile never
// has, so a typo is found when the configuration loads rather than as "no
// such key" at each sign-in.
type profileFieldValidator struct{}

func (profileFieldValidator) Name() string { return "idplug.profile_fields" }

func (profileFieldValidator) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), ast.KindMatcher(ast.SelectKind)) {
		sel := e.AsSelect()
		op := sel.Operand()
		if op.Kind() == ast.IdentKind && op.AsIdent() == "profile" && !slices.Contains(ProfileFields, sel.FieldName()) {
			iss.ReportErrorAtID(e.ID(), "profile has no field %q (it has %s; the provider's own fields are in raw)",
				sel.FieldName(), strings.Join(ProfileFields, ", "))
		}
	}
}

// shortInput is the length of string a literal pattern must be able to
// match within the meter's limit.
const shortInput = 64

// regexCostValidator refuses a literal pattern that does not compile in
// matches(s, p) (CEL checks only s.matches(p)), and one whose program is so large
// that matching it against even a short string passes the meter's limit
// (see chargeMatch): every sign-in would fail with mapping_failed, so the
// configuration fails to load instead. A pattern built at sign-in is
// charged then.
type regexCostValidator struct{}

func (regexCostValidator) Name() string { return "idplug.regex_cost" }

func (regexCostValidator) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), ast.FunctionMatcher(overloads.Matches)) {
		args := e.AsCall().Args()
		if len(args) == 0 {
			continue
		}
		p := args[len(args)-1] // s.matches(p) and matches(s, p)
		if p.Kind() != ast.LiteralKind {
			continue
		}
		pattern, ok := p.AsLiteral().(types.String)
		if !ok {
			continue
		}
		if !e.AsCall().IsMemberFunction() {
			// cel.ValidateRegexLiterals checks s.matches(p) only: its
			// pattern is the first argument there, the second here.
			if _, err := regexp.Compile(string(pattern)); err != nil {
				iss.ReportErrorAtID(p.ID(), "invalid matches argument: %v", err)
				continue
			}
		}
		size := regexSize(string(pattern))
		if cost := size * (shortInput + regexUnit) / regexUnit; cost > MeterLimit {
			iss.ReportErrorAtID(p.ID(), "the pattern compiles to %d instructions: matching a string of %d bytes with it costs %d, over the mapping's limit of %d (simplify it, or split it into several matches)",
				size, shortInput, cost, MeterLimit)
		}
	}
}
