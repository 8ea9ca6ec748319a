package sandbox

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"github.com/idplug/idplug/internal/wire"
)

// systemReadPaths are what a plugin reads to make TLS connections and resolve
// names: CA certificates, resolver configuration, time zones, randomness. The ones
// missing on a machine are skipped.
var systemReadPaths = []string{
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates",
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols",
	"/etc/localtime", "/usr/share/zoneinfo",
	"/dev/urandom", "/dev/random",
}

// libraryPaths are read by a dynamically linked plugin's loader.
var libraryPaths = []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"}

// Launch is one start of a plugin.
type Launch struct {
	Policy Policy
	Report Report // Assess(Policy, Detect(Policy)), computed once per host
	// Name is the plugin's name (the file name without idplug-connector-).
	Name string
	// File is the plugin executable, opened and verified; Path is its path.
	File *os.File
	Path string
	// SocketDir is the plugin's own folder for its Unix socket.
	SocketDir string
	// Env is the plugin's whole environment.
	Env []string
	// EgressSocket is the host's egress proxy for this plugin (in SocketDir),
	// told to the plugin when egress mode proxy is in force.
	EgressSocket string
	// ConnectRules, when set, are the host's shared rules for egress mode open
	// (NewConnectRules); without them the launcher makes its own.
	ConnectRules *ConnectRules
}

// Command returns the launcher command that runs l's plugin confined. The caller
// starts it and closes l.File once it has started.
func Command(l Launch) (*exec.Cmd, error) {
	if reason := l.Report.Refusal(); reason != "" {
		return nil, fmt.Errorf("%s", reason)
	}
	if err := l.Policy.Check(); err != nil {
		return nil, err
	}
	spec := Spec{Args: []string{l.Path}, KeepCapabilities: l.Report.Mode == ModeOff}
	if l.Report.Mode != ModeOff {
		spec.Required = l.Report.Mode == ModeRequired
		spec.Landlock = l.Report.Has(FeatureFS)
		spec.Seccomp = l.Report.Has(FeatureSeccomp)
		spec.ABILimit = l.Policy.ABILimit
		spec.Read = append(append([]string{}, systemReadPaths...), ForPlugin(l.Policy.Read, l.Name)...)
		spec.Write = []string{l.SocketDir}
		exec, err := runtimeFiles(l.File)
		if err != nil {
			return nil, fmt.Errorf("reading the executable: %w", err)
		}
		extra, err := extraExecutables(l)
		if err != nil {
			return nil, err
		}
		spec.Exec = append(exec, extra.grant...)
		if len(extra.programs) > 0 {
			// What a program the plugin starts reads about itself and its limits.
			spec.Read = append(spec.Read, childReadPaths...)
		}
		for i, prog := range extra.programs {
			files, err := runtimeFilesAt(prog, extra.scripts[i])
			if err != nil {
				return nil, fmt.Errorf("executable %s: %w", prog, err)
			}
			spec.Exec = append(spec.Exec, files...)
		}
		slices.Sort(spec.Exec)
		spec.Exec = slices.Compact(spec.Exec)
		if len(spec.Exec) > 0 {
			spec.Read = append(spec.Read, libraryPaths...)
		}
		spec.Read = append(spec.Read, extra.read...)
		spec.Root = l.Report.Has(FeatureRoot)
		spec.HostProc = spec.Root && !l.Report.Has(FeatureProc)
		if l.Report.Has(FeatureConnect) {
			spec.NoConnect = l.Report.Egress == EgressProxy
			spec.DenyPorts = l.Policy.HostPorts
		}
	}
	var connectRules *os.File
	if l.ConnectRules != nil && spec.Landlock && !spec.NoConnect && len(spec.DenyPorts) > 0 {
		f, err := l.ConnectRules.ruleset()
		if err != nil {
			return nil, err
		}
		spec.ConnectRuleset, connectRules = true, f
	}
	if script, _ := shebang(l.File); script != "" {
		// The kernel hands a script to its interpreter as /dev/fd/N: keep it open.
		spec.KeepFD = true
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if u := l.Policy.User; u != nil {
		if err := os.Chown(l.SocketDir, int(u.UID), int(u.GID)); err != nil {
			return nil, fmt.Errorf("socket folder for plugin_user %s: %w", u.Name, err)
		}
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"idplug-sandbox-launcher"}
	cmd.Env = launcherEnv(l.Env)
	if l.EgressSocket != "" && spec.NoConnect {
		cmd.Env = append(cmd.Env, wire.EnvEgressProxy+"="+l.EgressSocket)
	}
	cmd.Env = append(cmd.Env, envLaunch+"="+string(raw))
	cmd.ExtraFiles = []*os.File{l.File} // becomes pluginFD
	if connectRules != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, connectRules) // becomes connectFD
	}
	switch u := l.Policy.User; {
	case spec.Root && viaUserNS():
		spec.UserNS = true
		raw, err = json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		cmd.Env[len(cmd.Env)-1] = envLaunch + "=" + string(raw)
	case spec.Root:
		// The launcher builds the root first, then becomes plugin_user itself.
		cmd.SysProcAttr = namespaceAttr(spec.NoConnect)
		if u != nil {
			spec.UID, spec.GID = u.UID, u.GID
			raw, err = json.Marshal(spec)
			if err != nil {
				return nil, err
			}
			cmd.Env[len(cmd.Env)-1] = envLaunch + "=" + string(raw)
		}
	case u != nil:
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	}
	return cmd, nil
}

// runtimeFiles lists what the kernel executes besides f to run it: the dynamic
// loader of an ELF executable, or a script's interpreter and its loader.
func runtimeFiles(f *os.File) ([]string, error) {
	if interp, err := shebang(f); err != nil || interp != "" {
		if err != nil {
			return nil, err
		}
		in, err := os.Open(interp)
		if err != nil {
			return nil, fmt.Errorf("script interpreter: %w", err)
		}
		defer in.Close()
		loader, err := interpreter(in)
		if err != nil || loader == "" {
			return []string{interp}, err
		}
		return []string{interp, loader}, nil
	}
	loader, err := interpreter(f)
	if err != nil || loader == "" {
		return nil, err
	}
	return []string{loader}, nil
}

// shebang is the interpreter a "#!" script names, or "" for another file.
func shebang(f *os.File) (string, error) {
	head := make([]byte, 256)
	n, err := f.ReadAt(head, 0)
	if n < 2 || string(head[:2]) != "#!" {
		if err != nil && err != io.EOF {
			return "", err
		}
		return "", nil
	}
	line, _, _ := strings.Cut(string(head[2:n]), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return "", fmt.Errorf("its #! line names no interpreter")
	}
	return fields[0], nil
}

// interpreter is the ELF program interpreter (the dynamic loader) f asks for, or
// "" for a static executable.
func interpreter(f *os.File) (string, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", err
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", err
			}
			for len(b) > 0 && b[len(b)-1] == 0 {
				b = b[:len(b)-1]
			}
			return string(b), nil
		}
	}
	return "", nil
}
