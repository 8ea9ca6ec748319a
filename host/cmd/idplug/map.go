package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/sdk"
)

// mapCmd is the dry run of a connector's mapping: it loads the configuration
// (which compiles every mapping, and reports every problem), runs the
// connector's mapping on a sample profile and prints {"userInfo", "claims"}.
// No plugin starts. A refusal or a failed expression exits 1 with its reason.
func mapCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "idplug.yaml", "the configuration file")
	id := fs.String("connector", "", "the connector instance id whose mapping runs")
	input := fs.String("input", "", `the sample, {"profile": {...}, "raw": {...}}; - reads stdin`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *id == "" || *input == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: idplug map --config idplug.yaml --connector ID --input sample.json")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var m *mapping.Mapping
	found := false
	for _, c := range cfg.Instances {
		if c.ID == *id {
			m, found = c.Mapping, true
		}
	}
	if !found {
		fmt.Fprintf(stderr, "%s: no connector %q is configured\n", *path, *id)
		return 1
	}
	u, err := readSample(*input)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *input, err)
		return 1
	}
	res, err := m.Apply(context.Background(), u)
	if err != nil {
		fmt.Fprintf(stderr, "connector %s: %v\n", *id, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res.Output()); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func readSample(path string) (u sdk.UserInfo, err error) {
	if path == "-" {
		return mapping.ReadSample(os.Stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return u, err
	}
	defer f.Close()
	return mapping.ReadSample(f)
}
