package catalog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/internal/printable"
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
	if info.Size() > maxSumsSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a list of plugins takes", path, info.Size(), maxSumsSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Bounded again as read: the file may grow after its stat.
	data, err := io.ReadAll(io.LimitReader(f, maxSumsSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSumsSize {
		return nil, fmt.Errorf("%s is more than the %d bytes a list of plugins takes", path, maxSumsSize)
	}
	return ParseSums(path, data)
}

// maxSumsSize bounds SHA256SUMS: some 3,000 plugins' lines.
const maxSumsSize = 1 << 20

// maxSumsLine bounds one line: a digest and a file name take under 400 bytes.
const maxSumsLine = 4 << 10

// ParseSums parses the output of sha256sum. name is used in error messages.
func ParseSums(name string, data []byte) (map[string][]byte, error) {
	sums := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 512), maxSumsLine)
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digest, file, ok := strings.Cut(line, " ")
		file = strings.TrimPrefix(strings.TrimLeft(file, " "), "*")
		sum, err := hex.DecodeString(digest)
		if !ok || err != nil || len(sum) != 32 || file == "" {
			return nil, fmt.Errorf("%s line %d: want \"<sha256 hex>  <file>\", got %q", name, n, printable.Cut(line, 200))
		}
		if strings.ContainsRune(file, '/') {
			return nil, fmt.Errorf("%s line %d: %q: list file names only, not paths", name, n, file)
		}
		if _, dup := sums[file]; dup {
			return nil, fmt.Errorf("%s line %d: %s is listed twice", name, n, file)
		}
		sums[file] = sum
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s line %d: longer than %d bytes; want \"<sha256 hex>  <file>\"", name, n, maxSumsLine)
	}
	return sums, sc.Err()
}
