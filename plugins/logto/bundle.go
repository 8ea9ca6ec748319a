package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// The bundle's place beside the plugins, and its files.
const (
	bundleDirName  = "logto-bundle"
	manifestName   = "logto-bundle.sha256" // beside the bundle, so the folder's SHA256SUMS can list it
	catalogName    = "connectors.json"
	nodeName       = "node"
	bridgeName     = "bridge.mjs"
	pluginSumsName = "SHA256SUMS"
)

// bundle is the folder of Node, the bridge and the connectors' packages.
type bundle struct {
	pluginDir string
	dir       string
	catalog   catalog
}

// catalog is connectors.json, written when the bundle is built.
type catalog struct {
	Node       string                  `json:"node"`
	Connectors map[string]catalogEntry `json:"connectors"`
}

// catalogEntry is one connector: its package and its metadata in idplug's shape.
type catalogEntry struct {
	Package  string       `json:"package"`
	Version  string       `json:"version"`
	Tokens   bool         `json:"tokens"`
	Refresh  bool         `json:"refresh"`
	Metadata sdk.Metadata `json:"metadata"`
}

// openBundle reads the catalog of the bundle in dir; its digest list is beside it.
func openBundle(dir string) (*bundle, error) {
	b := &bundle{pluginDir: filepath.Dir(dir), dir: dir}
	data, err := os.ReadFile(b.catalogPath())
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("cannot read the Logto bundle %s: idplug's sandbox grants only the logto-bundle folder beside the plugin file "+
			"(is it there, and owned and writable only by root or idplug's user?); a bundle elsewhere needs sandbox.read and sandbox.exec entries for logto-*: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("the Logto bundle is missing or incomplete (build it with make build): %w", err)
	}
	if err := json.Unmarshal(data, &b.catalog); err != nil {
		return nil, fmt.Errorf("%s: %w", b.catalogPath(), err)
	}
	return b, nil
}

func (b *bundle) catalogPath() string { return filepath.Join(b.dir, catalogName) }

func (b *bundle) names() []string {
	var out []string
	for n := range b.catalog.Connectors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// verify checks, before Node runs anything from the bundle, that every file in it is
// listed in logto-bundle.sha256 with a matching digest, that nothing else is there,
// and, when the plugin folder has a SHA256SUMS (which the host enforces for the
// plugins), that it lists logto-bundle.sha256 too.
func (b *bundle) verify() error {
	manifest := filepath.Join(b.pluginDir, manifestName)
	data, err := os.ReadFile(manifest)
	if errors.Is(err, fs.ErrPermission) {
		return replacedError(manifestName, err)
	}
	if err != nil {
		return fmt.Errorf("the bundle's digest list: %w", err)
	}
	sums, err := os.ReadFile(filepath.Join(b.pluginDir, pluginSumsName))
	if errors.Is(err, fs.ErrPermission) {
		return replacedError(pluginSumsName, err)
	}
	if err == nil {
		want, ok := listedDigest(sums, manifestName)
		got := sha256.Sum256(data)
		if !ok {
			return fmt.Errorf("%s does not list %s: the bundle cannot be trusted", pluginSumsName, manifestName)
		}
		if !bytes.Equal(want, got[:]) {
			return fmt.Errorf("%s does not match its digest in %s", manifestName, pluginSumsName)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	listed := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		digest, file, ok := strings.Cut(line, "  ")
		sum, err := hex.DecodeString(digest)
		if !ok || err != nil || len(sum) != sha256.Size || !filepath.IsLocal(file) {
			return fmt.Errorf("%s line %d: want \"<sha256 hex>  <path inside %s>\"", manifestName, n, bundleDirName)
		}
		listed[filepath.ToSlash(filepath.Clean(file))] = sum
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", manifestName, err)
	}
	err = filepath.WalkDir(b.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.dir, path)
		rel = filepath.ToSlash(rel)
		// What others can write, they could change between this check and Node's read.
		if info, err := d.Info(); err != nil {
			return err
		} else if info.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%s/%s can be written by other users than its owner", bundleDirName, rel)
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s/%s is not a regular file (links are not allowed in the bundle)", bundleDirName, rel)
		}
		want, ok := listed[rel]
		if !ok {
			return fmt.Errorf("%s/%s is not listed in %s", bundleDirName, rel, manifestName)
		}
		got, err := fileDigest(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s/%s does not match its digest in %s", bundleDirName, rel, manifestName)
		}
		delete(listed, rel) // what stays listed is missing
		return nil
	})
	if err != nil {
		return err
	}
	if len(listed) > 0 {
		missing := slices.Sorted(maps.Keys(listed))
		return fmt.Errorf("%s lists %d files the bundle does not have (%s/%s first): it is incomplete",
			manifestName, len(missing), bundleDirName, missing[0])
	}
	return nil
}

// replacedError explains a digest list the plugin may no longer read: idplug's
// sandbox grants the files beside the plugin that were there when it started, so one
// replaced since is out of its reach until the plugin is replaced or restarted.
func replacedError(name string, err error) error {
	return fmt.Errorf("%s cannot be read: it was replaced after this plugin started, and idplug's sandbox grants the file "+
		"that was there at start (replace the Logto plugin files too, as make build does, or restart idplug): %w", name, err)
}

// listedDigest finds file in a sha256sum listing.
func listedDigest(sums []byte, file string) ([]byte, bool) {
	for _, line := range strings.Split(string(sums), "\n") {
		digest, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.TrimPrefix(strings.TrimLeft(name, " "), "*") != file {
			continue
		}
		sum, err := hex.DecodeString(digest)
		return sum, err == nil && len(sum) == sha256.Size
	}
	return nil, false
}

func fileDigest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
