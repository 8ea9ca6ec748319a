package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/sdk"
)

type pluginListing struct {
	Plugins []pluginEntry   `json:"plugins"`
	Refused []catalog.Entry `json:"refused"`
	Ignored []catalog.Entry `json:"ignored"`
}

type pluginEntry struct {
	File       string       `json:"file"`
	Path       string       `json:"path"`
	ID         string       `json:"id"`
	Target     string       `json:"target"`
	Platform   sdk.Platform `json:"platform"`
	Name       sdk.I18n     `json:"name"`
	IsStandard bool         `json:"isStandard"`
	State      string       `json:"state"`
	// EgressHosts are the hosts the plugin declares it reaches beyond its
	// configurations (what sandbox.egress_allow may narrow), as host:port.
	EgressHosts []string `json:"egressHosts,omitempty"`
}

// pluginsCmd starts every plugin of a folder to read its metadata, then stops them.
// It exits 1 when a file named like a plugin was refused, so scripts can check a folder.
func pluginsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("plugin-dir", "", "the plugin folder (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	logLevel := fs.String("log-level", "warn", "log level: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "idplug plugins: --plugin-dir is required")
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: hclog.LevelFromString(*logLevel), Output: stderr})
	h, err := host.Open(context.Background(), host.Options{PluginDir: *dir, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "idplug plugins:", err)
		return 1
	}
	defer h.Close()

	listing := pluginListing{Plugins: []pluginEntry{}, Refused: h.Refused(), Ignored: h.Ignored()}
	for _, p := range h.Plugins() {
		m := p.Proc.Metadata()
		listing.Plugins = append(listing.Plugins, pluginEntry{
			File: p.File, Path: p.Path, ID: m.ID, Target: m.Target, Platform: m.Platform, Name: m.Name, IsStandard: m.IsStandard,
			State: string(p.State), EgressHosts: host.EgressHosts(sandbox.Policy{}, "", m),
		})
	}
	if listing.Refused == nil {
		listing.Refused = []catalog.Entry{}
	}
	if listing.Ignored == nil {
		listing.Ignored = []catalog.Entry{}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(listing)
	} else {
		printListing(stdout, listing)
	}
	if len(listing.Refused) > 0 {
		return 1
	}
	return 0
}

func printListing(w io.Writer, l pluginListing) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTARGET\tSTANDARD\tSTATE\tFILE")
	for _, p := range l.Plugins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", p.ID, p.Name["en"], p.Target, p.IsStandard, p.State, p.File)
	}
	_ = tw.Flush()
	var egress []string
	for _, p := range l.Plugins {
		if len(p.EgressHosts) > 0 {
			egress = append(egress, fmt.Sprintf("  %s: %s", p.ID, strings.Join(p.EgressHosts, ", ")))
		}
	}
	if len(egress) > 0 {
		fmt.Fprintln(w, "\nHosts reached beyond their configurations (sandbox.egress_allow narrows them):")
		fmt.Fprintln(w, strings.Join(egress, "\n"))
	}
	if len(l.Refused) > 0 {
		fmt.Fprintln(w, "\nRefused:")
		for _, e := range l.Refused {
			fmt.Fprintf(w, "  %s: %s\n", e.File, e.Reason)
		}
	}
	if len(l.Ignored) > 0 {
		fmt.Fprintln(w, "\nIgnored:")
		for _, e := range l.Ignored {
			fmt.Fprintf(w, "  %s: %s\n", e.File, e.Reason)
		}
	}
}
