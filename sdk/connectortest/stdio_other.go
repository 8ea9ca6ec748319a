//go:build !unix

package connectortest

import "errors"

// printedDuring reads what the process prints on Unix only: elsewhere it runs
// nothing and says so.
func printedDuring(func()) (stdout, stderr string, err error) {
	return "", "", errors.ErrUnsupported
}
