package config

import (
	"time"

	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

// One load reads every ${file:} file as one version of the set. The files are
// read one after the other, and a set rotated meanwhile (the kubelet swapping
// a mounted Secret's ..data link, an operator writing the files one by one)
// had given a client id of one app with the secret of another, or session
// keys of two rotations. So once every file is read, each is read again: when
// one's version (its inode and times, as Stat sees them through links) or its
// content is not what was read, the whole set is read again, a bounded number
// of times. When every file is found as read, each held its content from its
// first read to its second, so all held them at once, between the two reads.
//
// A file found unchanged passes at no wait. Waiting for a file that changed
// just now to settle (a writer may be halfway through it) is left to the
// reload, which waits so for the configuration file already: a start, a
// validate, and a test that writes a secret and loads at once, wait for nothing.

const (
	// maxSecretReads bounds the reads of the set when a file keeps changing.
	maxSecretReads = 5
	// secretRereadPause is the wait before the set is read again: time for
	// a writer to finish, or for files written one by one to all be written.
	secretRereadPause = 100 * time.Millisecond
)

// secretReadHook, when set (by tests), runs after each read of a secret file's
// content, so that a test can change the files between two reads.
var secretReadHook func(full string)

// SecretFile is a file a ${file:} reference read, as the load read it.
type SecretFile struct {
	// Path is the file's path, made absolute against the configuration
	// file's folder.
	Path string
	// Changed is when the file last changed when it was read: its inode's
	// change time, which every write moves and no copy can set.
	Changed time.Time
}

// secretRead is a file as one read of the set found it.
type secretRead struct {
	ref     string // the path as the reference wrote it
	full    string
	version FileVersion
	value   string
	// field and pos are where the file is first referenced.
	field *walk.Path
	pos   walk.Pos
}

// unchanged reads the file again and says whether it is the version read,
// with the same content (a write within one tick of the clock can leave the
// times as they were).
func (r *secretRead) unchanged() bool {
	f, info, err := openRegular(r.full)
	if err != nil {
		return false
	}
	defer f.Close()
	if versionOf(info) != r.version {
		return false
	}
	value, err := readSecretValue(f, r.full)
	return err == nil && value == r.value
}

// secretFiles are the files one read of the configuration used, each read
// once however many references name it.
type secretFiles struct {
	byRef map[string]*secretRead
	list  []*secretRead
	// field and pos are where the value being replaced is written.
	field *walk.Path
	pos   walk.Pos
}

// value is the content of the file a ${file:path} reference names.
func (s *secretFiles) value(path, baseDir string) (string, error) {
	if r, ok := s.byRef[path]; ok {
		return r.value, nil
	}
	r, err := readSecretFile(path, baseDir)
	if err != nil {
		return "", err
	}
	r.field, r.pos = s.field, s.pos
	if s.byRef == nil {
		s.byRef = map[string]*secretRead{}
	}
	s.byRef[path] = r
	s.list = append(s.list, r)
	return r.value, nil
}

// changed returns the first file not found as it was read, or nil.
func (s *secretFiles) changed() *secretRead {
	for _, r := range s.list {
		if !r.unchanged() {
			return r
		}
	}
	return nil
}

func (s *secretFiles) secretFiles() []SecretFile {
	out := make([]SecretFile, len(s.list))
	for i, r := range s.list {
		out[i] = SecretFile{Path: r.full, Changed: r.version.Changed()}
	}
	return out
}

// readDocument parses data and replaces its references, reading the ${file:}
// files again until one read of the set finds them as the read before it.
// An error stops the load: a document that does not parse, or problems that
// leave references unreplaced.
func readDocument(data []byte, env func(string) (string, bool), baseDir string, ps *walk.Problems) (*yaml.Node, []SecretFile, error) {
	for reads := 1; ; reads++ {
		*ps = walk.Problems{}
		root, err := walk.Parse(data)
		if err != nil || root == nil {
			return root, nil, err
		}
		files := &secretFiles{}
		in := interpolator{env: lookup{env: env, baseDir: baseDir, files: files, replaced: ps.Replaced}, ps: ps, room: MaxInterpolatedSize}
		in.interpolate(root, nil)
		changed := files.changed()
		switch {
		case changed == nil && in.over:
			// The references left unreplaced would only bring more problems.
			return nil, files.secretFiles(), ps.Err()
		case changed == nil:
			return root, files.secretFiles(), nil
		case reads == maxSecretReads:
			ps.AddFailed(changed.field, changed.pos, "${file:%s}: %s kept changing while the configuration was read (%d reads, %s apart); try again once it is written",
				changed.ref, changed.full, maxSecretReads, secretRereadPause)
			return nil, files.secretFiles(), ps.Err()
		}
		time.Sleep(secretRereadPause)
	}
}
