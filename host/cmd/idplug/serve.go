package main

import (
	"fmt"
	"io"
)

func serveCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "idplug serve: not available yet")
	return 1
}

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "idplug validate: not available yet")
	return 1
}
