// Package walk reads a YAML document into positioned nodes and walks them for
// a schema, collecting every problem with its line and field path instead of
// stopping at the first.
//
// It knows nothing of any schema. Parse bounds nesting and reports syntax
// errors by line; a Decoder walks mappings with merge keys expanded, bounds
// alias expansion, checks keys against a known list (suggesting the likely
// intended one), and converts a subtree to JSON; Problems collects what is
// wrong, in file order, with paths that show a key only when it looks like a
// name (KeyName: a secret can be written where YAML reads a key). The caller
// decides what the values mean.
package walk
