package main

import (
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk/connectortest"
)

// Example ID's code is the user's id, so there is no token endpoint to fake: the
// sign-in checks are skipped for want of Options.Provider.
var kitOptions = connectortest.Options{
	// The deadline checks wait for it: shorter than the 10 s default keeps
	// the tests quick, and still far above what a call takes.
	CallTimeout: 5 * time.Second,
	ValidConfig: map[string]any{
		"authorizationEndpoint": "https://id.example.test/authorize",
		"clientId":              "client-1",
	},
}

func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitOptions)
}

func TestKitBinary(t *testing.T) {
	connectortest.Run(t, hosttest.Binary("."), kitOptions)
}
