package catalog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// readSums parses SHA256SUMS in dir ("<hex digest>  <file>" or "<hex digest> *<file>"
// per line). It returns nil when the file does not exist.
func readSums(dir string) (map[string][]byte, error) {
	path := filepath.Join(dir, SumsFile)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if why := untrusted(info); why != "" {
		return nil, fmt.Errorf("%s is %s", path, why)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSums(path, data)
}

// ParseSums parses the output of sha256sum. name is used in error messages.
func ParseSums(name string, data []byte) (map[string][]byte, error) {
	sums := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digest, file, ok := strings.Cut(line, " ")
		file = strings.TrimPrefix(strings.TrimLeft(file, " "), "*")
		sum, err := hex.DecodeString(digest)
		if !ok || err != nil || len(sum) != 32 || file == "" {
			return nil, fmt.Errorf("%s line %d: want \"<sha256 hex>  <file>\", got %q", name, n, line)
		}
		if strings.ContainsRune(file, '/') {
			return nil, fmt.Errorf("%s line %d: %q: list file names only, not paths", name, n, file)
		}
		if _, dup := sums[file]; dup {
			return nil, fmt.Errorf("%s line %d: %s is listed twice", name, n, file)
		}
		sums[file] = sum
	}
	return sums, sc.Err()
}
