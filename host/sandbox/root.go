package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The launcher starts in new namespaces that a clone made (a Go process has
// threads by then, and unshare of a user namespace needs a single one). As root
// it has CAP_SYS_ADMIN. A host that is not root goes through one more step: it
// is not dumpable, so it could not write a child's uid_map; it starts the
// launcher plainly (a fresh, dumpable process) and that one starts the real
// launcher in a user namespace that maps its uid 0 to the host's uid, waits for
// it and dies with it. That launcher builds the root as uid 0 of its namespace,
// then gives up every capability for good before exec.

// envProbe marks a process started only to learn whether namespaces work here.
const envProbe = "IDPLUG_SANDBOX_PROBE"

// rootDirName is the mount point of the new root inside the plugin's socket
// folder (a folder it owns: nothing else need be writable).
const rootDirName = ".root"

// cloneFlags are the namespaces a launcher starts in: always a mount namespace,
// a PID namespace and IPC and UTS namespaces, a network namespace for egress
// mode proxy, and a user namespace for a host that is not root. The plugin is
// the first process of its PID namespace: when it ends, the kernel ends every
// process it started, so a child it detached (setsid) cannot outlive a restart,
// its removal or the host. Without its own IPC namespace a plugin shares SysV
// IPC and POSIX message queues with the host and every other plugin (a queue
// carried one plugin's client secret to another), which no file rule reaches.
// No cgroup namespace: the runtimes a plugin runs (Go, Node) size themselves by
// the limits of the cgroup /proc/self/cgroup names, which one would hide.
func cloneFlags(netns bool) uintptr {
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if netns {
		flags |= unix.CLONE_NEWNET
	}
	if os.Geteuid() != 0 {
		flags |= unix.CLONE_NEWUSER
	}
	return flags
}

// namespaceAttr is the SysProcAttr that starts a launcher in its namespaces.
func namespaceAttr(netns bool) *syscall.SysProcAttr {
	// Whatever ends the outer step (or, for a root host, the host) ends this
	// one, and with it the PID namespace: the SDK's own watch of its parent
	// sees none from inside the namespace.
	attr := &syscall.SysProcAttr{Cloneflags: cloneFlags(netns), Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}

// viaUserNS is true when namespaces need the outer step (see above).
func viaUserNS() bool { return os.Geteuid() != 0 }

// runInUserNS is the outer step: it starts this binary again with env in the
// namespaces, sharing its standard streams and extra files, and exits as it does.
func runInUserNS(env []string, netns bool, extra []*os.File) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"idplug-sandbox-launcher"}
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = namespaceAttr(netns)
	parent := os.Getppid()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox launcher: user namespace:", err)
		os.Exit(126)
	}
	// A host that dies (even by SIGKILL) takes its plugin along: this step then
	// has a new parent, ends, and the plugin gets SIGKILL (Pdeathsig), which
	// ends its PID namespace. (The SDK's watch of its parent sees none from
	// inside the namespace: it serves plugins run without one.)
	go func() {
		for range time.Tick(time.Second) {
			if os.Getppid() != parent {
				_ = cmd.Process.Kill()
				os.Exit(1)
			}
		}
	}()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode() & 0xff)
	case err != nil:
		fmt.Fprintln(os.Stderr, "sandbox launcher: user namespace:", err)
		os.Exit(126)
	}
	os.Exit(0)
}

// A plugin runs with no capability, whoever it runs as: uid 0 of its user
// namespace (a host that is not root), uid 0 of a root host, or plugin_user.
// Two steps, around the change to plugin_user: lockCapabilities needs
// CAP_SETPCAP, which that setuid takes away, and dropCapabilities comes right
// before exec, once the launcher needs nothing more.

// lockCapabilities empties the calling thread's bounding set and sets its
// securebits, each locked, so that no exec gives a capability back: uid 0
// running a program, a set-user-ID-root program or file capabilities get none,
// and none can be raised as ambient. For a thread that stays uid 0 "no setuid
// fixup" is set too; one that becomes plugin_user needs the fixup, which is
// what clears its capabilities at setuid. A launcher without CAP_SETPCAP (one
// started as plugin_user where no namespace can be made, or by a host that is
// not root without one) can change neither and has no capability to give up.
func lockCapabilities(staysRoot bool) error {
	if !hasCapability(unix.CAP_SETPCAP) {
		return nil
	}
	// linux/securebits.h: noroot and no ambient raise (and no setuid fixup),
	// each with its lock.
	bits := uintptr(1<<0 | 1<<1 | 1<<6 | 1<<7)
	if staysRoot {
		bits |= 1<<2 | 1<<3
	}
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, bits, 0, 0, 0); err != nil {
		return fmt.Errorf("securebits: %w", err)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("bounding set: %w", err)
		}
	}
	return nil
}

// dropCapabilities leaves the calling thread (the one that will exec) no
// effective, permitted, inheritable or ambient capability: the plugin is uid 0
// of its user namespace only by the map, and uid 0 of a root host only by
// name, never by power (setting the clock or the host name, reading the kernel
// log, rewriting the host's nftables rules were a root host's plugin's).
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// hasCapability is true when the calling thread has capability c in effect.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

var probe struct {
	once sync.Once
	ok   bool
	proc bool
}

// probeNoProc is the probe's exit status when it made its namespaces but
// could mount no procfs of their own.
const probeNoProc = 87 // not 2, a Go panic's

// namespacesWork starts the launcher once in the namespaces a plugin would get,
// the way a plugin's would start, and asks it to make its mounts private and to
// mount a procfs of its PID namespace: a container without CAP_SYS_ADMIN, or a
// kernel with user namespaces turned off, fails here instead of at every start;
// proc is false where only the procfs is refused (a container runtime's masked
// /proc keeps a user namespace from mounting one).
func namespacesWork() (ok, proc bool) {
	probe.once.Do(func() {
		cmd := exec.Command("/proc/self/exe")
		cmd.Args = []string{"idplug-sandbox-probe"}
		cmd.Env = []string{envProbe + "=inner"}
		if viaUserNS() {
			cmd.Env = []string{envProbe + "=outer"}
		} else {
			cmd.SysProcAttr = namespaceAttr(true)
		}
		err := cmd.Run()
		var exit *exec.ExitError
		probe.ok = err == nil || errors.As(err, &exit) && exit.ExitCode() == probeNoProc
		probe.proc = err == nil
	})
	return probe.ok, probe.proc
}

// runProbe is the probe's whole work, run from init.
func runProbe(stage string) {
	if stage == "outer" {
		runInUserNS([]string{envProbe + "=inner"}, true, nil)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		os.Exit(1)
	}
	// Over /proc: the mount is the probe's own and ends with it.
	if err := mountProc("/proc"); err != nil {
		os.Exit(probeNoProc)
	}
	os.Exit(0)
}

// mountEntry is one path of the new root and how it is mounted.
type mountEntry struct {
	path  string
	write bool // the socket folder: read-write, never executable
	dev   bool // a device node: nodev would make it useless
	proc  bool // /proc: a procfs of the launcher's PID namespace
}

// rootEntries are what the new root holds: what the Landlock rules grant,
// /proc (Landlock leaves the plugin its own entries only) and the few devices.
// /proc is a procfs of the plugin's own PID namespace, or, where none can be
// mounted (spec.HostProc), the host's.
func rootEntries(spec Spec) []mountEntry {
	var out []mountEntry
	for _, p := range append(append([]string{}, spec.Read...), spec.Exec...) {
		out = append(out, mountEntry{path: filepath.Clean(p), dev: strings.HasPrefix(p, "/dev/")})
	}
	for _, p := range spec.Write {
		out = append(out, mountEntry{path: filepath.Clean(p), write: true})
	}
	out = append(out, mountEntry{path: "/proc", proc: !spec.HostProc}, mountEntry{path: "/dev/null", dev: true})
	slices.SortFunc(out, func(a, b mountEntry) int { return strings.Compare(a.path, b.path) })
	return slices.CompactFunc(out, func(a, b mountEntry) bool { return a.path == b.path })
}

// enterRoot builds a root that holds only the entries of spec, each bound from
// where it is now, read-only but for the socket folder, and makes it the
// launcher's root; the rest of the file system (other sockets among it) is gone
// from this namespace. Missing paths are left out, as Landlock leaves them out.
func enterRoot(spec Spec) error {
	if len(spec.Write) == 0 {
		return errors.New("no socket folder to build the root in")
	}
	// Nothing mounted here may reach the host's mount table.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := filepath.Join(spec.Write[0], rootDirName)
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=4096"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	var bound []string
	for _, e := range rootEntries(spec) {
		if !e.write && slices.ContainsFunc(bound, func(b string) bool { return within(e.path, b) }) {
			continue // already there, with its parent
		}
		var ok bool
		var err error
		if e.proc {
			// Before the old root goes: a user namespace mounts a procfs only
			// where one is already in full view.
			ok, err = true, mountProc(filepath.Join(root, e.path))
		} else {
			ok, err = bindInto(root, e)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		if ok {
			bound = append(bound, e.path)
		}
	}
	// A script's interpreter is handed the plugin file as /dev/fd/N.
	if err := os.Symlink("/proc/self/fd", filepath.Join(root, "dev", "fd")); err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root under the new one; detaching it
	// leaves the new one alone.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("root read-only: %w", err)
	}
	return nil
}

// mountProc mounts at dst a procfs of the calling process's PID namespace:
// the plugin and what it starts are all it lists. The host's /proc, bound, had
// every process of the machine, and without Landlock their environments and,
// through /proc/<pid>/root, their files. hidepid=invisible and subset=pid
// (Linux 5.8) leave out other users' processes and all but the processes (no
// /proc/sys, kcore or sysrq-trigger); an older kernel mounts it without them.
func mountProc(dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	// Read-only, as the rest of the root: where hidepid and subset are not
	// known (before Linux 5.8) the procfs has /proc/sys and /proc/sysrq-trigger,
	// which a uid-0 plugin without Landlock could otherwise write.
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	err := unix.Mount("proc", dst, "proc", flags, "hidepid=invisible,subset=pid")
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mount("proc", dst, "proc", flags, "")
	}
	if err != nil {
		return fmt.Errorf("procfs: %w", err)
	}
	return nil
}

// within is true when p is b or inside it.
func within(p, b string) bool {
	return p == b || strings.HasPrefix(p, strings.TrimSuffix(b, "/")+"/")
}

// bindInto binds e.path at the same path under root; false when it is missing.
func bindInto(root string, e mountEntry) (bool, error) {
	info, err := os.Stat(e.path)
	if err != nil {
		return false, nil
	}
	dst := filepath.Join(root, e.path)
	if info.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return false, err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return false, err
		}
		f.Close()
	}
	// The socket folder alone is bound without what is mounted inside it (the
	// new root itself); elsewhere a user namespace refuses to bind less than a
	// whole subtree.
	flags := uintptr(unix.MS_BIND | unix.MS_REC)
	if e.write {
		flags = unix.MS_BIND
	}
	if err := unix.Mount(e.path, dst, "", flags, ""); err != nil {
		return false, fmt.Errorf("bind: %w", err)
	}
	// Flags the bind had from its source must be kept (a user namespace refuses
	// to drop them); read-only, nosuid and, off the socket folder, exec come on top.
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return false, err
	}
	remount := uintptr(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID) | lockedFlags(st.Flags)
	switch {
	case e.write:
		remount |= unix.MS_NOEXEC | unix.MS_NODEV
	case e.dev:
		remount |= unix.MS_RDONLY
	default:
		remount |= unix.MS_RDONLY | unix.MS_NODEV
	}
	if err := unix.Mount("", dst, "", remount, ""); err != nil {
		return false, fmt.Errorf("remount: %w", err)
	}
	return true, nil
}

// lockedFlags are the mount flags of statfs's f_flags that a remount must repeat.
func lockedFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_RDONLY: unix.MS_RDONLY, unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}
