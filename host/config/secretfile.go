package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// readSecretFile reads the file a ${file:PATH} reference names: a regular file of
// at most MaxSecretFileSize bytes, without its trailing newline. The error names
// the path, never the content.
func readSecretFile(path, baseDir string) (string, error) {
	if path == "" {
		return "", errors.New(`"${file:}" names no file: write ${file:/path/to/secret}`)
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(baseDir, full)
	}
	// O_NONBLOCK: a FIFO named by mistake must not hang the load.
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("${file:%s}: cannot read %s: %v", path, full, unwrapPathError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("${file:%s}: cannot read %s: %v", path, full, unwrapPathError(err))
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("${file:%s}: %s is not a regular file", path, full)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("${file:%s}: cannot read %s: %v", path, full, unwrapPathError(err))
	}
	if len(data) > MaxSecretFileSize {
		return "", fmt.Errorf("${file:%s}: %s is larger than the limit of %d bytes", path, full, MaxSecretFileSize)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
