package process

// HostCode is hostCode, for the tests of package process_test (which may
// import host/server, whose codes the list must hold).
var HostCode = hostCode
