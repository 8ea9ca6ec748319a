package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Secrets can come from files: ${file:PATH}, trailing newline trimmed, relative
// to the configuration file's folder.
func TestFileReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abs := write("session.key", key32+"\n")
	write("api.key", "api-key-from-a-file-0123456789-abcdef\r\n")
	write("client.secret", "line one\nline two\n\n")
	path := write("idplug.yaml", doc(
		"plugin_dir: ./plugins",
		`session_keys: ["${file:`+abs+`}"]`,
		`api_keys: ["${file:api.key}"]`,
		"connectors:",
		"  - id: acme",
		"    plugin: oauth2",
		"    config: {clientSecret: '${file:client.secret}', plain: '$${file:x}'}",
	))
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.SessionKeys[0]) != key32 || cfg.APIKeys[0].Secret != "api-key-from-a-file-0123456789-abcdef" {
		t.Errorf("keys = %q, %q", cfg.SessionKeys[0], cfg.APIKeys)
	}
	if got := string(cfg.Instances[0].Config); got != `{"clientSecret":"line one\nline two","plain":"${file:x}"}` {
		t.Errorf("config = %s", got)
	}
}

// A file that cannot be used is an error naming the field and the path, never
// its content, and nothing hangs on a FIFO.
func TestFileReferenceProblems(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", MaxSecretFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(missing, dangling); err != nil {
		t.Fatal(err)
	}
	// A local user who may write the file would choose the secret: an API
	// key of theirs, a session key that forges sessions.
	shared := filepath.Join(dir, "shared")
	if err := os.WriteFile(shared, []byte("an-api-key-anyone-may-rewrite-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	grouped := filepath.Join(dir, "grouped")
	if err := os.WriteFile(grouped, []byte("an-api-key-the-group-may-rewrite-0123456"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(grouped, 0o620); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ ref, want string }{
		{"${file:" + shared + "}", "3 api_keys[0]: ${file:" + shared + "}: " + shared + " can be written by other accounts (mode 0666), so anyone among them sets this secret: chmod go-w it"},
		{"${file:" + grouped + "}", "3 api_keys[0]: ${file:" + grouped + "}: " + grouped + " can be written by other accounts (mode 0620), so anyone among them sets this secret: chmod go-w it"},
		{"${file:" + dangling + "}", "3 api_keys[0]: ${file:" + dangling + "}: " + dangling + " is a link to " + missing + ", which does not exist"},
		{"${file: key}", `3 api_keys[0]: ${file:" key"}: the path has spaces around it`},
		{"${file:" + missing + "}", "3 api_keys[0]: ${file:" + missing + "}: cannot read " + missing + ": no such file or directory"},
		{"${file:missing}", "3 api_keys[0]: ${file:missing}: cannot read " + missing + ": no such file or directory"},
		{"${file:" + dir + "}", "3 api_keys[0]: ${file:" + dir + "}: " + dir + " is not a regular file"},
		{"${file:" + fifo + "}", "3 api_keys[0]: ${file:" + fifo + "}: " + fifo + " is not a regular file"},
		{"${file:" + big + "}", "3 api_keys[0]: ${file:" + big + "}: " + big + " is larger than the limit of 65536 bytes"},
		{"${file:}", `3 api_keys[0]: "${file:}" names no file: write ${file:/path/to/secret}`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(withMinimal(`api_keys: ["`+tc.ref+`"]`)), envOf(nil), dir)
		ce, ok := err.(*Error)
		if !ok || len(ce.Problems) != 1 {
			t.Errorf("%s: err = %v", tc.ref, err)
			continue
		}
		p := ce.Problems[0]
		if got := strings.Join([]string{strconv.Itoa(p.Line), p.Field + ":", p.Message}, " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.ref, got, tc.want)
		}
	}
}

// Whoever owns a secret file, or may put another file in its place, chooses
// the secret as surely as whoever may write it: a file another account owns
// (mode 0644: it may chmod it and write), a root file in a folder another
// account owns (it may rename a file of its own over it), in a folder every
// account may write without the sticky bit or a group that is not idplug's
// may write, or a link whose target is in such a folder. A file of idplug's in
// a sticky folder such as /tmp, or behind a link into a folder of idplug's (a
// Kubernetes secret's ..data), is idplug's.
func TestSecretFileOfAnotherAccountIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("gives files to another account, which needs root")
	}
	const nobody = 65534
	dir := t.TempDir()
	write := func(path string, mode os.FileMode) string {
		t.Helper()
		if err := os.WriteFile(path, []byte("a-secret-of-forty-bytes-0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	folder := func(name string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
		return d
	}
	theirs := write(filepath.Join(dir, "theirs"), 0o644)
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	inTheirFolder := write(filepath.Join(folder("their-folder", 0o755, nobody, nobody), "key"), 0o600)
	inOpenFolder := write(filepath.Join(folder("open-folder", 0o777, 0, 0), "key"), 0o600)
	inGroupFolder := write(filepath.Join(folder("group-folder", 0o770, 0, nobody), "key"), 0o600)
	linkToTheirs := filepath.Join(dir, "link")
	if err := os.Symlink(inTheirFolder, linkToTheirs); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		theirs:        "is owned by uid 65534, neither root nor the user idplug runs as (uid 0), who sets this secret: chown it",
		inTheirFolder: "their-folder, owned by uid 65534, neither root nor the user idplug runs as (uid 0), who could put another file in its place",
		inOpenFolder:  "open-folder, which every account may write (mode -rwxrwxrwx), so anyone could put another file in its place",
		inGroupFolder: "group-folder, which its group (gid 65534, not one of idplug's) may write",
		linkToTheirs:  "their-folder, owned by uid 65534",
	} {
		_, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+ref+`}"]`)), envOf(nil), dir)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "a-secret-of-forty") {
			t.Errorf("${file:%s}: %v\nwant an error saying %q, without the secret", ref, err, want)
		}
	}
	sticky := folder("sticky", 0o777|os.ModeSticky, 0, 0)
	ours := folder("ours", 0o700, 0, 0)
	kept := write(filepath.Join(ours, "key"), 0o400)
	link := filepath.Join(dir, "kept-link")
	if err := os.Symlink(kept, link); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{write(filepath.Join(sticky, "key"), 0o600), kept, link} {
		if _, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+ref+`}"]`)), envOf(nil), dir); err != nil {
			t.Errorf("${file:%s}, idplug's own: %v", ref, err)
		}
	}
}

// ${file:PATH} checks that PATH is a regular file before it opens it: opening
// a FIFO lets its writer through, and opening a device can act (a serial line,
// a tape that rewinds on close, /dev/watchdog, which arms the hardware
// watchdog). Here a writer waiting on a FIFO must still be waiting once the
// configuration is refused.
func TestFileReferenceDoesNotOpenANonRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	go func() {
		// Blocks until someone opens the FIFO for reading.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		close(opened)
	}()
	time.Sleep(100 * time.Millisecond) // the writer is waiting
	_, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+fifo+`}"]`)), envOf(nil), dir)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-opened:
		t.Fatalf("loading the configuration opened the FIFO %s (its writer went through) before refusing it", fifo)
	case <-time.After(500 * time.Millisecond):
		// Release the writer.
		if f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-opened
			f.Close()
		}
	}
}

// A link to a regular file is read: Kubernetes mounts a Secret's keys as
// links (key -> ..data/key).
func TestFileReferenceFollowsALink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "..data", "api-key"), []byte("api-key-from-a-linked-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/api-key", filepath.Join(dir, "api-key")); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte(withMinimal(`api_keys: ["${file:api-key}"]`)), envOf(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.APIKeys[0].Secret; got != "api-key-from-a-linked-file-0123456789" {
		t.Errorf("key = %q", got)
	}
}

func TestSandboxSettings(t *testing.T) {
	cfg := mustParse(t, withMinimal(), nil)
	if cfg.Sandbox.Mode != "auto" || cfg.Sandbox.Read != nil || cfg.Sandbox.Exec != nil || cfg.PluginUser != "" {
		t.Errorf("defaults: %+v %q", cfg.Sandbox, cfg.PluginUser)
	}
	cfg = mustParse(t, withMinimal(
		"sandbox:",
		"  mode: required",
		"  read:",
		"    logto-github: [/opt/bridge, bundle/js]",
		"    logto-*: [/opt/shared]",
		"  exec:",
		"    logto-*: [/opt/node/bin/node, ../bin/tool/]",
		"    oauth2: [/opt/bridge/run]",
		"plugin_user: idplug-plugins",
	), nil)
	if cfg.Sandbox.Mode != "required" || cfg.PluginUser != "idplug-plugins" ||
		strings.Join(cfg.Sandbox.Read["logto-github"], " ") != "/opt/bridge /etc/idplug/bundle/js" ||
		strings.Join(cfg.Sandbox.Read["logto-*"], " ") != "/opt/shared" ||
		strings.Join(cfg.Sandbox.Exec["logto-*"], " ") != "/opt/node/bin/node /etc/bin/tool" ||
		strings.Join(cfg.Sandbox.Exec["oauth2"], " ") != "/opt/bridge/run" {
		t.Errorf("got %+v %q", cfg.Sandbox, cfg.PluginUser)
	}
	got := problemsOf(t, withMinimal(
		"sandbox:",
		"  mode: strict",
		"  read: {Bad/Name: [/x], ok: [''], fine: /not/a/list}",
		"  extra: 1",
		"  exec: {'*': [/x], 'a*b': [/x], 'a**': [/x], logto-*: [''], ok: /x}",
		"plugin_user: ''",
	), nil)
	want := []string{
		`4 sandbox.mode: "strict" must be one of auto, required, off`,
		`5 sandbox.read.<unknown key>: the key is not a plugin name (the file name after idplug-connector-) or a name prefix ending in a single * (like logto-*)`,
		`5 sandbox.read.ok[0]: must be a path`,
		`5 sandbox.read.fine: must be a list, like ["..."]`,
		`6 sandbox.extra: unknown key (known keys: mode, read, exec, egress, egress_allow)`,
		`7 sandbox.exec.<unknown key>: "*" alone would cover every plugin; name a plugin, or a prefix like logto-*`,
		`7 sandbox.exec.<unknown key>: the key is not a plugin name (the file name after idplug-connector-) or a name prefix ending in a single * (like logto-*)`,
		`7 sandbox.exec.<unknown key>: the key is not a plugin name (the file name after idplug-connector-) or a name prefix ending in a single * (like logto-*)`,
		`7 sandbox.exec.logto-*[0]: must be a path`,
		`7 sandbox.exec.ok: must be a list, like ["..."]`,
		`8 plugin_user: must name a user; leave it out to run plugins as idplug's user`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// sandbox.egress and sandbox.egress_allow: the mode is proxy or open ("" leaves
// the choice to the kernel), the hosts are host or host:port per plugin, and
// an empty list narrows to nothing.
func TestSandboxEgressSettings(t *testing.T) {
	cfg := mustParse(t, withMinimal(), nil)
	if cfg.Sandbox.Egress != "" || cfg.Sandbox.EgressAllow != nil {
		t.Errorf("defaults: %+v", cfg.Sandbox)
	}
	cfg = mustParse(t, withMinimal(
		"sandbox:",
		"  egress: open",
		"  egress_allow: {github: [API.github.com, 'github.com:443'], logto-*: []}",
	), nil)
	if cfg.Sandbox.Egress != "open" || strings.Join(cfg.Sandbox.EgressAllow["github"], " ") != "api.github.com github.com:443" ||
		cfg.Sandbox.EgressAllow["logto-*"] == nil || len(cfg.Sandbox.EgressAllow["logto-*"]) != 0 {
		t.Errorf("got %+v", cfg.Sandbox)
	}
	got := problemsOf(t, withMinimal(
		"sandbox:",
		"  egress: direct",
		"  egress_allow: {github: ['https://api.github.com', 'a.b:99999', '*.github.com', 'x:0'], 'Bad/Name': [x], GitHub: [x]}",
	), nil)
	want := []string{
		`4 sandbox.egress: "direct" must be one of proxy, open`,
		`5 sandbox.egress_allow.github[0]: "https://api.github.com" is not a host or host:port, like api.github.com or api.github.com:443`,
		`5 sandbox.egress_allow.github[1]: "a.b:99999" is not a host or host:port, like api.github.com or api.github.com:443`,
		`5 sandbox.egress_allow.github[2]: "*.github.com" is not a host or host:port, like api.github.com or api.github.com:443`,
		`5 sandbox.egress_allow.github[3]: "x:0" is not a host or host:port, like api.github.com or api.github.com:443`,
		`5 sandbox.egress_allow.<unknown key>: the key is not a plugin name (the file name after idplug-connector-) or a name prefix ending in a single * (like logto-*)`,
		`5 sandbox.egress_allow.GitHub: "GitHub" is not a plugin name (the file name after idplug-connector-) or a name prefix ending in a single * (like logto-*)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// The sandbox's per-plugin lists: a value that is no mapping is named with an
// example of its kind, and a plugin whose path list keeps nothing is left out
// (an empty host list is kept: it narrows egress to nothing).
func TestSandboxPluginListsShape(t *testing.T) {
	got := problemsOf(t, withMinimal(
		"sandbox:",
		"  read: [/x]",
		"  exec: /x",
		"  egress_allow: api.github.com",
	), nil)
	want := []string{
		`4 sandbox.read: must be a mapping of plugin name to a list of paths, like {oauth2: [/opt/bridge]}`,
		`5 sandbox.exec: must be a mapping of plugin name to a list of paths, like {"bridge-*": [/opt/bridge/bin/node]}`,
		`6 sandbox.egress_allow: must be a mapping of plugin name to a list of hosts, like {github: [api.github.com]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	cfg := mustParse(t, withMinimal(
		"sandbox:",
		"  read: {oauth2: [], logto-*: [/opt/shared]}",
		"  egress_allow: {github: []}",
	), nil)
	if _, ok := cfg.Sandbox.Read["oauth2"]; ok || len(cfg.Sandbox.Read) != 1 {
		t.Errorf("read = %#v, want only logto-*", cfg.Sandbox.Read)
	}
	if l, ok := cfg.Sandbox.EgressAllow["github"]; !ok || l == nil || len(l) != 0 {
		t.Errorf("egress_allow = %#v, want github with an empty list", cfg.Sandbox.EgressAllow)
	}
}

// The configuration file is held to what a secret file is: whoever may write
// it, or put another in its place, runs idplug as they like.
func TestConfigurationFileOfAnotherAccountIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "idplug.yaml")
	if err := os.WriteFile(cfg, []byte(withMinimal()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfg); err != nil {
		t.Fatalf("idplug's own configuration: %v", err)
	}
	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "can be written by other accounts (mode 0666), so anyone among them configures idplug") {
		t.Errorf("a configuration anyone may write: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "owned by uid 65534, neither root nor the user idplug runs as (uid 0), who sets idplug's configuration") {
		t.Errorf("a configuration another account owns: %v", err)
	}
}

// A folder above a secret's folder counts too: whoever may rename it puts a
// folder of their own in its place, with the secret of their choice. And a
// folder no account can write, on a read-only mount, passes whatever its
// modes: Kubernetes mounts a ConfigMap's folder, mode 0777, so.
func TestSecretFoldersAboveAndReadOnlyMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("gives folders to another account and mounts one, which needs root")
	}
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(theirs, "ours")
	if err := os.Mkdir(ours, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(ours, "key")
	if err := os.WriteFile(key, []byte("a-secret-of-forty-bytes-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+key+`}"]`)), envOf(nil), dir)
	if err == nil || !strings.Contains(err.Error(), "is inside "+theirs+", owned by uid 65534") {
		t.Errorf("a secret under a folder another account owns: %v", err)
	}

	open := filepath.Join(dir, "configmap")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	mounted := filepath.Join(open, "key")
	if err := os.WriteFile(mounted, []byte("a-secret-of-forty-bytes-0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+mounted+`}"]`)), envOf(nil), dir); err == nil {
		t.Fatal("a secret in a folder every account may write was accepted")
	}
	if err := unix.Mount(open, open, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(open, unix.MNT_DETACH) })
	if err := unix.Mount("", open, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only here: %v", err)
	}
	if _, err := Parse([]byte(withMinimal(`api_keys: ["${file:`+mounted+`}"]`)), envOf(nil), dir); err != nil {
		t.Errorf("a secret in a 0777 folder of a read-only mount: %v", err)
	}
}
