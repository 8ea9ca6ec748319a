package host

import "github.com/idplug/idplug/host/supervisor"

// SocketBase is where hosts make their socket folders, for tests.
var SocketBase = supervisor.SocketBase
