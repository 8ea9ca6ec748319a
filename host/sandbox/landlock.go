package sandbox

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// presets are go-landlock's full configurations by ABI version (index 0 unused).
var presets = []landlock.Config{{}, landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5,
	landlock.V6, landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11}

const (
	readOnly = ll.AccessFSReadFile | ll.AccessFSReadDir
	runnable = ll.AccessFSReadFile | ll.AccessFSExecute
	// writable is what the socket folder allows: list it, read, write and
	// truncate files, make and remove files, folders and the Unix socket. Never
	// execute (a plugin would run a program it wrote itself), nor device nodes,
	// fifos or links, which nothing there needs.
	writable = readOnly | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSMakeReg |
		ll.AccessFSMakeDir | ll.AccessFSMakeSock | ll.AccessFSRemoveFile | ll.AccessFSRemoveDir
)

// restrictFS applies the Landlock ruleset of spec to the calling thread, which
// must have no_new_privs set. Everything the ABI can restrict is restricted but
// outbound TCP to ports other than idplug's own in egress mode open (and UDP,
// which DNS needs, and Landlock does not mediate); the rules give back what a
// plugin needs.
func restrictFS(spec Spec) error {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil {
		if spec.Required {
			return fmt.Errorf("not available in this kernel: %w", err)
		}
		return nil
	}
	cfg, rules := ruleset(abi, spec)
	fd, flags, err := cfg.NewRulesetFD(rules...)
	switch {
	case err != nil:
		return err
	case fd >= 0:
		if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
			return err
		}
	case spec.Required:
		return errors.New("nothing could be restricted")
	}
	// The host's layer, whatever this one held: it keeps idplug's ports out.
	if spec.ConnectRuleset {
		return applyConnectRuleset()
	}
	return nil
}

// ruleset is the Landlock configuration and rules of spec on a kernel that
// offers Landlock ABI abi.
func ruleset(abi int, spec Spec) (landlock.Config, []landlock.Rule) {
	if spec.ABILimit > 0 && abi > spec.ABILimit {
		abi = spec.ABILimit
	}
	abi = min(abi, len(presets)-1)
	preset := presets[abi]
	handledNet := landlock.AccessNetSet(ll.AccessNetBindTCP)
	// With the host's connect ruleset, its layer keeps idplug's ports out.
	if spec.NoConnect || len(spec.DenyPorts) > 0 && !spec.ConnectRuleset {
		handledNet |= ll.AccessNetConnectTCP
	}
	cfg := landlock.Config{
		HandledAccessFS:  preset.HandledAccessFS,
		HandledAccessNet: preset.HandledAccessNet & handledNet,
		Scoped:           preset.Scoped,
	}
	if !spec.Required {
		cfg = cfg.BestEffort()
	}
	rules := []landlock.Rule{
		landlock.PathAccess(runnable, "/proc/self/fd/"+strconv.Itoa(pluginFD)),
		// /proc/self resolves to the launcher's /proc/<pid>, which stays the
		// plugin's after exec: its own entries only.
		landlock.PathAccess(readOnly, "/proc/self"),
		landlock.PathAccess(ll.AccessFSReadFile|ll.AccessFSWriteFile, "/dev/null").IgnoreIfMissing(),
	}
	// Landlock refuses folder rights on a file: sort the paths (missing ones go).
	var dirs, files []string
	for _, p := range spec.Read {
		switch info, err := os.Stat(p); {
		case err != nil:
		case info.IsDir():
			dirs = append(dirs, p)
		default:
			files = append(files, p)
		}
	}
	if len(dirs) > 0 {
		rules = append(rules, landlock.PathAccess(readOnly, dirs...))
	}
	if len(files) > 0 {
		rules = append(rules, landlock.PathAccess(ll.AccessFSReadFile, files...))
	}
	// Executables, and folders whose executable files may run (listing included).
	var execDirs, execFiles []string
	for _, p := range spec.Exec {
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			execDirs = append(execDirs, p)
		} else {
			execFiles = append(execFiles, p)
		}
	}
	if len(execDirs) > 0 {
		rules = append(rules, landlock.PathAccess(runnable|ll.AccessFSReadDir, execDirs...))
	}
	if len(execFiles) > 0 {
		rules = append(rules, landlock.PathAccess(runnable, execFiles...))
	}
	if !spec.NoConnect && len(spec.DenyPorts) > 0 && !spec.ConnectRuleset && cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
		rules = append(rules, connectRules(spec.DenyPorts)...)
	}
	if len(spec.Write) > 0 {
		// Only the rights this ABI handles (truncate comes with ABI 3): a rule
		// may not name others.
		rules = append(rules, landlock.PathAccess(writable&cfg.HandledAccessFS, spec.Write...))
	}
	return cfg, rules
}

// connectRules allow a TCP connect to every port but deny: Landlock rules only
// grant, by port, whatever the address.
func connectRules(deny []uint16) []landlock.Rule {
	out := make([]landlock.Rule, 0, 65535)
	for port := 1; port <= 65535; port++ {
		if !slices.Contains(deny, uint16(port)) {
			out = append(out, landlock.ConnectTCP(uint16(port)))
		}
	}
	return out
}
