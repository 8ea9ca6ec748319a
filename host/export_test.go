package host

import (
	"time"

	"github.com/idplug/idplug/host/egress"
	"github.com/idplug/idplug/host/supervisor"
)

// SocketBase is where hosts make their socket folders, for tests.
var SocketBase = supervisor.SocketBase

// SetClock makes h read the time from now, for tests of what expires.
func SetClock(h *Host, now func() time.Time) { h.now = now }

// EgressRules are what the plugin named name may reach, for tests.
func EgressRules(h *Host, name string) egress.Rules { return h.egressRules(name) }
