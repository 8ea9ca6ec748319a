package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// envLaunch marks a process started as the launcher and carries its Spec. It never
// reaches the plugin.
const envLaunch = "IDPLUG_SANDBOX_LAUNCH"

// envPluginGodebug carries the plugin's GODEBUG past the launcher, which runs
// with Go's defaults (its outer step, in a user namespace, lives as long as the
// plugin: a monitor kept awake there would only cost); the last exec gives it
// back its name.
const envPluginGodebug = "IDPLUG_SANDBOX_GODEBUG"

// pluginFD is where the launcher finds the verified plugin file (ExtraFiles[0]).
const pluginFD = 3

// Spec is what the host tells its launcher.
type Spec struct {
	// Landlock and Seccomp say which restrictions to apply; Required makes any
	// restriction the kernel lacks an error instead of a gap.
	Landlock bool `json:"landlock,omitempty"`
	Seccomp  bool `json:"seccomp,omitempty"`
	Required bool `json:"required,omitempty"`
	// ABILimit caps the Landlock ABI used (tests only; 0 means none).
	ABILimit int `json:"abiLimit,omitempty"`
	// Read are read-only files and folders; Exec are files the plugin may also
	// execute (its ELF interpreter); Write are folders it may change but run
	// nothing from (its socket folder).
	Read  []string `json:"read,omitempty"`
	Exec  []string `json:"exec,omitempty"`
	Write []string `json:"write,omitempty"`
	// Args is the plugin's argv; Args[0] is its path, as if run directly.
	Args []string `json:"args"`
	// KeepFD leaves the plugin file open across exec, for a script whose
	// interpreter reads it as /dev/fd/N.
	KeepFD bool `json:"keepFD,omitempty"`
	// Root builds a private root of Read, Exec and Write (the launcher runs in
	// a new mount namespace).
	Root bool `json:"root,omitempty"`
	// NoConnect denies every TCP connect; otherwise DenyPorts are the ports the
	// plugin may not connect to (idplug's own listeners).
	NoConnect bool     `json:"noConnect,omitempty"`
	DenyPorts []uint16 `json:"denyPorts,omitempty"`
	// ConnectRuleset says the host's ruleset that keeps DenyPorts out is open
	// at connectFD (see ConnectRules); the launcher's own ruleset then leaves
	// TCP connect to it.
	ConnectRuleset bool `json:"connectRuleset,omitempty"`
	// UID and GID, when UID is not zero, are the account the launcher becomes
	// once the root is built (plugin_user; the host runs as root).
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
	// UserNS makes this launcher the outer step that starts the real one in a
	// user namespace (a host that is not root); InUserNS marks the real one.
	UserNS   bool `json:"userns,omitempty"`
	InUserNS bool `json:"inUserns,omitempty"`
	// KeepCapabilities leaves the plugin the launcher's capabilities (sandbox
	// mode off); otherwise it runs with none, a root host's plugin too.
	KeepCapabilities bool `json:"keepCapabilities,omitempty"`
	// HostProc binds the host's /proc into the private root where no procfs
	// of the plugin's PID namespace can be mounted.
	HostProc bool `json:"hostProc,omitempty"`
}

// The launcher runs before main (and before TestMain in a test binary): any
// binary that links the host can start plugins, and so must be able to become
// their launcher. It does nothing unless the host started it as one.
func init() {
	if stage, ok := os.LookupEnv(envProbe); ok {
		runProbe(stage)
	}
	raw, ok := os.LookupEnv(envLaunch)
	if !ok {
		return
	}
	runtime.LockOSThread() // restrictions are per thread; exec from the same one
	err := launch(raw)
	// Still here: nothing was executed. Say why in the JSON shape the host's log
	// reader understands, on stderr (stdout belongs to the plugin's handshake).
	msg, _ := json.Marshal(map[string]string{"@level": "error", "@message": "sandbox launcher: " + err.Error(),
		"@timestamp": time.Now().Format("2006-01-02T15:04:05.000000Z07:00")})
	fmt.Fprintf(os.Stderr, "%s\n", msg)
	os.Exit(126)
}

func launch(raw string) error {
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("bad spec: %w", err)
	}
	if len(spec.Args) == 0 {
		return fmt.Errorf("bad spec: no args")
	}
	// First, before anything can depend on a descriptor staying open across
	// an exec (the step into the user namespace passes its own explicitly).
	if err := closeOnExecFrom(3); err != nil {
		return fmt.Errorf("inherited descriptors: %w", err)
	}
	if spec.UserNS {
		inner := spec
		inner.UserNS, inner.InUserNS = false, true
		raw, err := json.Marshal(inner)
		if err != nil {
			return err
		}
		files := []*os.File{os.NewFile(pluginFD, "plugin")}
		if spec.ConnectRuleset {
			files = append(files, os.NewFile(connectFD, "landlock-connect-rules"))
		}
		runInUserNS(append(withoutLaunch(os.Environ()), envLaunch+"="+string(raw)), inner.NoConnect, files)
	}
	// The file stays readable through its descriptor until exec, then closes
	// like every other (closeOnExecFrom above), unless a script's interpreter
	// must read it. The host's ruleset never reaches the plugin.
	if spec.KeepFD {
		if _, err := unix.FcntlInt(pluginFD, unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("keeping the plugin file open: %w", err)
		}
	}
	env := pluginEnv(os.Environ())
	if spec.Root {
		if err := enterRoot(spec); err != nil {
			return fmt.Errorf("private root: %w", err)
		}
	}
	if spec.InUserNS {
		if err := limitTasks(); err != nil {
			return fmt.Errorf("task limit: %w", err)
		}
	}
	if !spec.KeepCapabilities {
		if err := lockCapabilities(spec.UID == 0); err != nil {
			return fmt.Errorf("dropping capabilities: %w", err)
		}
	}
	if spec.UID != 0 {
		// Every thread at once (Go's setuid does so): nothing keeps root.
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("plugin_user: %w", err)
		}
		if err := syscall.Setgid(int(spec.GID)); err != nil {
			return fmt.Errorf("plugin_user: %w", err)
		}
		if err := syscall.Setuid(int(spec.UID)); err != nil {
			return fmt.Errorf("plugin_user: %w", err)
		}
		// A change of user clears the parent-death signal, the plugin's only
		// tie to the host from inside its PID namespace: set it again.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("plugin_user: parent-death signal: %w", err)
		}
	}
	// no_new_privs whenever capabilities go too: a uid-0 plugin of a launcher
	// that could not lock its securebits (no CAP_SETPCAP, other capabilities
	// held) would get its bounding set back at exec without it.
	if spec.Landlock || spec.Seccomp || !spec.KeepCapabilities {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if spec.Landlock {
		if err := restrictFS(spec); err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
	}
	if spec.Seccomp {
		if err := installSeccomp(); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
	}
	// Last: building the root, becoming plugin_user and the rulesets above
	// need what this takes.
	if !spec.KeepCapabilities {
		if err := dropCapabilities(); err != nil {
			return fmt.Errorf("dropping capabilities: %w", err)
		}
	}
	return execFD(pluginFD, spec.Args, env)
}

// closeOnExecFrom marks every descriptor from first up close-on-exec. The
// plugin gets stdin, stdout and stderr (go-plugin's pipes) and nothing else: a
// descriptor idplug inherited without close-on-exec (a key file its parent
// opened, a socket, a pipe of a test harness) would reach it, and Landlock
// does not restrict what is already open, it checks paths at open. Marked,
// not closed: the launcher still reads the plugin file and the host's ruleset
// before its exec. It runs before Landlock and seccomp, so neither can refuse
// it.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Linux before 5.11 (ENOSYS, or EINVAL for the flag), or a container
	// runtime's seccomp filter (EPERM): one descriptor at a time.
	if werr := closeOnExecEach(first); werr != nil {
		return fmt.Errorf("close_range: %w; /proc/self/fd: %w", err, werr)
	}
	return nil
}

// closeOnExecEach is closeOnExecFrom by /proc/self/fd: the descriptors open
// now, whatever the file limit (marking every number up to it could take a
// million calls).
func closeOnExecEach(first int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < first {
			continue
		}
		// EBADF: the listing's own descriptor, closed since.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("descriptor %d: %w", fd, err)
		}
	}
	return nil
}

// launcherEnv is the environment a launcher starts with, given the plugin's: its
// GODEBUG under envPluginGodebug.
func launcherEnv(plugin []string) []string {
	env := make([]string, 0, len(plugin)+1)
	for _, kv := range plugin {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			kv = envPluginGodebug + "=" + v
		}
		env = append(env, kv)
	}
	return env
}

// withoutLaunch is the launcher's environment without envLaunch.
func withoutLaunch(environ []string) []string {
	env := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, envLaunch+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// pluginEnv is the launcher's environment as the plugin gets it: without
// envLaunch, and envPluginGodebug as GODEBUG.
func pluginEnv(environ []string) []string {
	env := withoutLaunch(environ)
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, envPluginGodebug+"="); ok {
			env[i] = "GODEBUG=" + v
		}
	}
	return env
}

// MaxTasks bounds the threads and processes of a plugin in its own user
// namespace, where the kernel counts them apart from the host's (Linux 5.14 and
// later count RLIMIT_NPROC per user namespace): a plugin starting threads or
// processes without end would otherwise use up the task limit it shares with
// the host (systemd's TasksMax, a container's pids limit), and the host's
// runtime aborts when it cannot start a thread. A Go plugin runs a few dozen
// threads; the Logto bridge and its Node, some forty together.
const MaxTasks = 512

func limitTasks() error {
	return unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: MaxTasks, Max: MaxTasks})
}

// execFD runs the file open at fd: the one the host checked, whatever its path
// names now.
func execFD(fd int, args, env []string) error {
	empty, err := syscall.BytePtrFromString("")
	if err != nil {
		return err
	}
	argv, err := syscall.SlicePtrFromStrings(args)
	if err != nil {
		return err
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	_, _, errno := syscall.RawSyscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("execveat: %w", errno)
}
