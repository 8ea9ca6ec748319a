package store

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Schema migrations: migrations/{backend}/NNNN_name.sql, applied in order, each
// in its own transaction, and recorded in schema_migrations.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations(backend string) []migration {
	dir := path.Join("migrations", backend)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		panic(err) // embedded at build time
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			panic(fmt.Sprintf("store: migration file %s must be named NNNN_name.sql", e.Name()))
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// SchemaVersion is the schema this binary needs.
func SchemaVersion() int {
	m := migrations("sqlite")
	return m[len(m)-1].version
}

func errSchemaBehind(have int) error {
	return fmt.Errorf("store: the database schema is at version %d, this idplug needs %d: run idplug migrate --config FILE", have, SchemaVersion())
}

func errSchemaAhead(have int) error {
	return fmt.Errorf("store: the database schema is at version %d, newer than this idplug knows (%d): run a newer idplug", have, SchemaVersion())
}
