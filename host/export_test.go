package host

// SocketBase is where hosts make their socket folders, for tests.
var SocketBase = socketBase
