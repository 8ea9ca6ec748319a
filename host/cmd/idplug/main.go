// Command idplug runs social sign-in connectors as plugins.
//
//	idplug serve    --config idplug.yaml
//	idplug validate --config idplug.yaml
//	idplug plugins  --plugin-dir DIR [--plugin ID] [--json] [--log-level warn]
//	idplug migrate  --config idplug.yaml
//	idplug vault rekey --config idplug.yaml
//	idplug keys list --config idplug.yaml
//	idplug keys rotate [--force] --config idplug.yaml
//	idplug keys withdraw (--key ID | --all) --config idplug.yaml
//	idplug map      --config idplug.yaml --connector ID --input sample.json
//	idplug version
//	idplug help
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/sysmon"
)

const usage = `idplug runs social sign-in connectors as plugins.

Usage:
  idplug serve    --config idplug.yaml      run the host
  idplug validate --config idplug.yaml      check the config and every connector instance
  idplug plugins  --plugin-dir DIR [--json] list the plugins of a folder and why files were refused
  idplug plugins  --plugin-dir DIR --plugin ID [--json]
                                            one plugin: its config fields and readme
  idplug migrate  --config idplug.yaml      apply the store's schema migrations (before a rollout)
  idplug vault rekey --config idplug.yaml   re-encrypt the token vault under the first of vault_keys
  idplug keys list --config idplug.yaml   list the OpenID Provider's signing keys: id, algorithm, state, dates
  idplug keys rotate [--force] --config idplug.yaml   rotate the OpenID Provider's signing keys (the next key signs; the old stays published)
  idplug keys withdraw (--key ID | --all) --config idplug.yaml   drop signing keys that leaked at once (not published, never used again)
  idplug map --config idplug.yaml --connector ID --input sample.json
                                            dry-run a connector's mapping on a sample profile (no plugin starts);
                                            --input - reads the sample from stdin
  idplug version                            print the version (also --version, -v)
  idplug help                               print this help (also --help, -h)

--config defaults to idplug.yaml in the current folder. idplug plugins --log-level
sets what it logs to stderr while the plugins start: trace, debug, info, warn
(the default) or error.
`

// sysmonErr says why idplug serve runs with the Go runtime's default monitor.
var sysmonErr error

func main() {
	// idplug serve keeps the runtime's monitor awake (internal/sysmon), which
	// takes a new run of this executable: first thing, before anything is done
	// that the new run would repeat.
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		sysmonErr = sysmon.Reexec()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve", "validate", "plugins", "migrate", "vault", "keys", "map":
		// These read the configuration and its secrets (session and vault
		// keys, the store's password), and some start plugins: hide this
		// process from them and from every other process of its user.
		if err := sandbox.HideProcess(); err != nil {
			fmt.Fprintln(stderr, "idplug: cannot mark the process non-dumpable:", err)
			return 1
		}
	}
	switch cmd {
	case "serve":
		return serveCmd(rest, stdout, stderr)
	case "validate":
		return validateCmd(rest, stdout, stderr)
	case "plugins":
		return pluginsCmd(rest, stdout, stderr)
	case "migrate":
		return migrateCmd(rest, stdout, stderr)
	case "vault":
		return vaultCmd(rest, stdout, stderr)
	case "keys":
		return keysCmd(rest, stdout, stderr)
	case "map":
		return mapCmd(rest, stdout, stderr)
	case "version", "--version", "-v":
		return versionCmd(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "idplug: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
