package main

import (
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
)

// stub is the shared stub provider standing in for the providers whose Logto
// connectors the tests run, at their real paths: the test build of the plugin sends
// the connectors' fixed https:// hosts here. Each provider's routes are added by its
// test.
type stub struct{ *stubprovider.Provider }

func newStub(t testing.TB) *stub { return &stub{stubprovider.New(t)} }

// hosts maps each of names (https hosts) to the stub.
func (s *stub) hosts(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = s.URL()
	}
	return m
}

// failAt makes path answer status and a JSON body, whatever its route, until
// ClearOverrides.
func (s *stub) failAt(path string, status int, body string) {
	s.Override(path, stubprovider.Reply(status, "application/json", body))
}
