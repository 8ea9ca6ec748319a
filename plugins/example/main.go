// Command idplug-connector-example is the smallest complete idplug connector: a
// connector for Example ID, a fictional provider. Start here when writing your own.
//
// Example ID's authorization page sends the browser back with ?code=<user id>&state=...,
// and its "code" is the user's id, so the connector needs no network to finish a sign-in.
// A real connector would exchange the code at the provider's token endpoint instead.
package main

import "github.com/idplug/idplug/sdk"

func main() {
	sdk.Serve(connector{})
}
