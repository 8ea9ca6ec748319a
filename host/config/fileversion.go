package config

import (
	"os"
	"syscall"
	"time"
)

// FileVersion identifies one version of a file: a write, a truncation, a
// rename over it or a swap of a link on its path (Kubernetes' ..data) changes
// it. The configuration file's reload and the ${file:} secrets go by it.
type FileVersion struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// StatFile is the version of the file at path, through links.
func StatFile(path string) (FileVersion, error) {
	info, err := os.Stat(path)
	if err != nil {
		return FileVersion{}, err
	}
	return versionOf(info), nil
}

func versionOf(info os.FileInfo) FileVersion {
	v := FileVersion{size: info.Size(), mtime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		v.dev, v.ino = uint64(st.Dev), st.Ino
		v.ctime = st.Ctim.Nano()
	}
	return v
}

// Empty says the file had no content.
func (v FileVersion) Empty() bool { return v.size == 0 }

// Changed is when the file last changed, by its inode's change time: every
// write moves it, and unlike the modification time no one can set it (a copy
// that keeps the modification time, touch -d). The modification time where
// the system gives none.
func (v FileVersion) Changed() time.Time {
	if v.ctime == 0 {
		return time.Unix(0, v.mtime)
	}
	return time.Unix(0, v.ctime)
}
