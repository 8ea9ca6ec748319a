package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	// Support are the support folders of plugin families (the Logto bundle).
	Support []catalog.Entry `json:"support"`
}

type pluginEntry struct {
	File       string       `json:"file"`
	Path       string       `json:"path"`
	ID         string       `json:"id"`
	Target     string       `json:"target"`
	Platform   sdk.Platform `json:"platform"`
	Name       sdk.I18n     `json:"name"`
	IsStandard bool         `json:"isStandard"`
	// Kind is "native" for a plugin that is its own program, or "bridge" for
	// one of a family that runs through a support folder (Bridge names it):
	// a Logto connector runs in Node from the logto-bundle folder.
	Kind   string `json:"kind"`
	Bridge string `json:"bridge,omitempty"`
	// EgressHosts are the hosts the plugin declares it reaches beyond its
	// configurations (what sandbox.egress_allow may narrow), as host:port.
	EgressHosts []string `json:"egressHosts,omitempty"`
}

// pluginDetail is what --plugin prints: the entry, and what a configuration needs.
type pluginDetail struct {
	pluginEntry
	Description    sdk.I18n       `json:"description"`
	FormItems      []sdk.FormItem `json:"formItems"`
	ConfigTemplate string         `json:"configTemplate,omitempty"`
	Readme         string         `json:"readme"`
}

// pluginsCmd starts every plugin of a folder briefly to read its metadata, then
// stops it: the listing says what each plugin is, not whether it runs.
// The listing exits 1 when a file named like a plugin was refused, so scripts
// can check a folder; --plugin ID exits 1 when ID is no plugin the folder runs,
// with the reason when its file was refused.
func pluginsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("plugin-dir", "", "the plugin folder (required)")
	only := fs.String("plugin", "", "show one plugin by id: its config fields and readme")
	asJSON := fs.Bool("json", false, "print JSON")
	logLevel := fs.String("log-level", "warn", "log level: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "idplug plugins: --plugin-dir is required")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "idplug plugins: unexpected argument %q; the folder is given with --plugin-dir DIR, a plugin with --plugin ID\n", fs.Arg(0))
		return 2
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "idplug plugins: --log-level %q is none of trace, debug, info, warn, error\n", *logLevel)
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: level, Output: stderr})
	h, err := host.Open(context.Background(), host.Options{PluginDir: *dir, Logger: log, OnDemand: true, StartConcurrency: scanConcurrency})
	if err != nil {
		fmt.Fprint(stderr, "idplug plugins: ")
		printError(stderr, err)
		return 1
	}
	defer h.Close()

	listing := pluginListing{Plugins: []pluginEntry{}, Refused: orEmpty(h.Refused()), Ignored: orEmpty(h.Ignored()), Support: orEmpty(h.Support())}
	var details []pluginDetail
	for _, p := range h.Catalog() {
		m := p.Metadata
		e := pluginEntry{File: p.File, Path: p.Path, ID: m.ID, Target: m.Target, Platform: m.Platform, Name: m.Name, IsStandard: m.IsStandard, Kind: "native",
			EgressHosts: host.EgressHosts(sandbox.Policy{}, "", m)}
		if bridge := bridgeOf(p.Path, p.File); bridge != "" {
			e.Kind, e.Bridge = "bridge", bridge
		}
		listing.Plugins = append(listing.Plugins, e)
		details = append(details, pluginDetail{pluginEntry: e, Description: m.Description, FormItems: m.FormItems, ConfigTemplate: m.ConfigTemplate, Readme: m.Readme})
	}

	if *only != "" {
		return showPlugin(stdout, stderr, *only, details, listing.Refused, *asJSON)
	}
	if *asJSON {
		printJSON(stdout, listing)
	} else {
		printListing(stdout, listing)
	}
	if len(listing.Refused) > 0 {
		return 1
	}
	return 0
}

// bridgeOf names the family whose support folder runs the plugin at path (the
// Logto connectors' logto-bundle), or "" for a native plugin.
func bridgeOf(path, file string) string {
	family := catalog.Family(strings.TrimPrefix(file, catalog.Prefix))
	if family == "" {
		return ""
	}
	info, err := os.Stat(filepath.Join(filepath.Dir(path), family+catalog.SupportSuffix))
	if err != nil || !info.IsDir() {
		return ""
	}
	return family
}

func orEmpty(e []catalog.Entry) []catalog.Entry {
	if e == nil {
		return []catalog.Entry{}
	}
	return e
}

func kindLabel(p pluginEntry) string {
	if p.Bridge != "" {
		return p.Bridge + " bridge"
	}
	return p.Kind
}

func printListing(w io.Writer, l pluginListing) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tTARGET\tSTANDARD\tFILE")
	for _, p := range l.Plugins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", termLine(p.ID), termLine(p.Name["en"]), termLine(kindLabel(p)), termLine(p.Target), p.IsStandard, termLine(p.File))
	}
	_ = tw.Flush()
	var egress []string
	for _, p := range l.Plugins {
		if len(p.EgressHosts) > 0 {
			egress = append(egress, fmt.Sprintf("  %s: %s", termLine(p.ID), termLine(strings.Join(p.EgressHosts, ", "))))
		}
	}
	if len(egress) > 0 {
		fmt.Fprintln(w, "\nHosts reached beyond their configurations (sandbox.egress_allow narrows them):")
		fmt.Fprintln(w, strings.Join(egress, "\n"))
	}
	sections := []struct {
		title   string
		entries []catalog.Entry
	}{{"Support folders", l.Support}, {"Refused", l.Refused}, {"Ignored", l.Ignored}}
	for _, s := range sections {
		if len(s.entries) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.title)
		for _, e := range s.entries {
			fmt.Fprintf(w, "  %s: %s\n", termLine(e.File), termLine(e.Reason))
		}
	}
	fmt.Fprintln(w, "\nidplug plugins --plugin-dir DIR --plugin ID shows a plugin's config fields and readme.")
}

// showPlugin prints one plugin: what it is, its config fields and its readme.
func showPlugin(stdout, stderr io.Writer, id string, details []pluginDetail, refused []catalog.Entry, asJSON bool) int {
	var d *pluginDetail
	ids := make([]string, 0, len(details))
	for i := range details {
		ids = append(ids, details[i].ID)
		if details[i].ID == id {
			d = &details[i]
		}
	}
	if d == nil {
		// The file named for the id was refused: say why, rather than that
		// there is no such plugin.
		for _, e := range refused {
			if e.File == catalog.Prefix+id {
				fmt.Fprintf(stderr, "idplug plugins: plugin %q was refused: %s: %s\n", id, termLine(e.File), termLine(e.Reason))
				return 1
			}
		}
		fmt.Fprintf(stderr, "idplug plugins: no plugin with id %q in this folder (plugins: %s)\n", id, termLine(strings.Join(ids, ", ")))
		return 1
	}
	if d.FormItems == nil {
		d.FormItems = []sdk.FormItem{}
	}
	if asJSON {
		printJSON(stdout, d)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"ID", d.ID}, {"Name", d.Name["en"]}, {"Kind", kindLabel(d.pluginEntry)}, {"Target", d.Target},
		{"Platform", string(d.Platform)}, {"Standard", fmt.Sprint(d.IsStandard)}, {"File", d.File},
		{"Description", d.Description["en"]},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], termLine(row[1]))
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout, "\nConfig fields:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if len(d.FormItems) == 0 {
		fmt.Fprintln(stdout, "  (none declared)")
	} else {
		fmt.Fprintln(tw, "  KEY\tTYPE\tREQUIRED\tLABEL\tDEFAULT")
	}
	for _, f := range d.FormItems {
		def := ""
		if f.DefaultValue != nil {
			b, _ := json.Marshal(f.DefaultValue)
			def = string(b)
		}
		typ := string(f.Type)
		if f.Confidential {
			typ += " (secret)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%v\t%s\t%s\n", termLine(f.Key), termLine(typ), f.Required, termLine(f.Label), termLine(def))
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout, "\nReadme:")
	readme := termBlock(strings.TrimSpace(d.Readme))
	if readme == "" {
		readme = "(none)"
	}
	fmt.Fprintln(stdout, readme)
	return 0
}
