package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/internal/printable"
)

// purgeInterval is how often expired rows are deleted (flows, sessions,
// grants, retired signing keys).
const purgeInterval = 5 * time.Minute

// openStore opens the configured store with a deadline on every call, applying
// pending migrations when migrate is set (see openTimedStore); nil when the
// store is off.
func openStore(ctx context.Context, cfg *config.Config, m *metrics.Metrics, migrate bool) (store.Store, error) {
	_, timed, err := openTimedStore(ctx, cfg, m, false, migrate)
	return timed, err
}

// openServeStore is openStore for idplug serve: with SQLite, which one process
// uses, consumed flows are kept in memory and saved at a graceful stop
// (store.KeepFlowsInMemory), so a sign-in writes nothing to disk.
func openServeStore(ctx context.Context, cfg *config.Config, m *metrics.Metrics) (store.Store, error) {
	raw, timed, err := openTimedStore(ctx, cfg, m, true, true)
	if raw == nil || err != nil {
		return timed, err
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout(cfg))
	defer cancel()
	st, err := store.KeepFlowsInMemory(octx, raw, timed, storeOpenTimeout(cfg))
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	return st, nil
}

// openTimedStore opens the store and wraps it with the deadlines (and the
// metrics); it returns the store underneath too, for what needs it bare.
// Both are nil when the store is off. oneProcess takes a SQLite file for this
// process alone before it is migrated (store.Options.OneProcess). migrate is
// for idplug serve and idplug migrate alone: a maintenance command run with a
// newer binary must not move the schema ahead of the replicas running, nor
// make a database where the configuration points by mistake.
func openTimedStore(ctx context.Context, cfg *config.Config, m *metrics.Metrics, oneProcess, migrate bool) (raw, timed store.Store, err error) {
	if !cfg.Store.Enabled() {
		return nil, nil, nil
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout(cfg))
	defer cancel()
	raw, err = store.Open(octx, cfg.Store.URL, store.Options{Migrate: migrate, Timeout: cfg.Store.Timeout, OneProcess: oneProcess})
	if err != nil {
		return nil, nil, err
	}
	var observe store.Observer
	if m != nil {
		observe = m.ObserveStore
	}
	// A vault refresh holds its record's lock across the call to the plugin.
	return raw, store.Timed(raw, cfg.Store.Timeout, cfg.Store.Timeout+cfg.CallTimeout, observe), nil
}

// storeOpenTimeout bounds opening the store: migrations may take a while.
func storeOpenTimeout(cfg *config.Config) time.Duration { return cfg.Store.Timeout + 30*time.Second }

// startPurge deletes expired rows in the background until ctx ends.
func startPurge(ctx context.Context, s store.Store, log hclog.Logger) {
	go store.PurgeEvery(ctx, s, purgeInterval, func(err error) {
		log.Warn("purging expired rows failed; retrying later", "error", err)
	})
}

// openVault builds the vault from vault_keys; nil when none are configured.
func openVault(cfg *config.Config) (*vault.Vault, error) {
	if len(cfg.VaultKeys) == 0 {
		return nil, nil
	}
	return vault.New(cfg.VaultKeys)
}

// tokenStorage lists the instances whose tokens the vault keeps, and warns
// about those that ask for tokens without a vault to keep them in.
func tokenStorage(cfg *config.Config, log hclog.Logger) []string {
	var ids []string
	for _, c := range cfg.Instances {
		if cfg.KeepsTokens(c) {
			ids = append(ids, c.ID)
		}
	}
	if log != nil {
		for _, w := range idleSettings(cfg) {
			log.Warn(w)
		}
	}
	return ids
}

// idleSettings says which settings of cfg do nothing, as the operator who
// wrote them would not expect: idplug serve logs them, idplug validate prints
// them.
func idleSettings(cfg *config.Config) []string {
	var out []string
	for _, c := range cfg.Instances {
		if c.StoreTokens && !cfg.KeepsTokens(c) {
			out = append(out, "connector "+c.ID+" has storeTokens, but the vault needs a store and vault_keys: its tokens are handed back, not kept")
		}
	}
	if len(cfg.VaultKeys) > 0 && !cfg.Store.Enabled() {
		out = append(out, "vault_keys are set, but the store is off (store.url: off): no token is kept")
	}
	return out
}

// connectorIDs are the ids of cfg's connectors.
func connectorIDs(cfg *config.Config) []string {
	ids := make([]string, 0, len(cfg.Instances))
	for _, c := range cfg.Instances {
		ids = append(ids, c.ID)
	}
	return ids
}

// stateSettings sums up what only a restart applies: the store and the vault
// keys (digested, never kept in the clear for the comparison).
func stateSettings(cfg *config.Config) (storeSetting, vaultSetting string) {
	h := sha256.New()
	for _, k := range cfg.VaultKeys {
		h.Write(k)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s|%s", cfg.Store.URL, cfg.Store.Timeout), hex.EncodeToString(h.Sum(nil))
}

// migrateCmd applies pending schema migrations, ahead of a rollout.
func migrateCmd(args []string, stdout, stderr io.Writer) int {
	_, cfg, code := loadConfig("migrate", args, stderr)
	if cfg == nil {
		return code
	}
	if !cfg.Store.Enabled() {
		fmt.Fprintln(stderr, "idplug migrate: the store is off (store.url: off); nothing to migrate")
		return 1
	}
	s, err := openStore(context.Background(), cfg, nil, true)
	if err != nil {
		fmt.Fprintln(stderr, "idplug migrate:", err)
		return 1
	}
	defer s.Close()
	fmt.Fprintf(stdout, "%s store is at schema version %d\n", s.Backend(), store.SchemaVersion())
	return 0
}

// vaultCmd runs vault maintenance: rekey re-encrypts every record under the
// first of vault_keys.
func vaultCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rekey" {
		fmt.Fprintln(stderr, "usage: idplug vault rekey --config idplug.yaml")
		return 2
	}
	_, cfg, code := loadConfig("vault rekey", args[1:], stderr)
	if cfg == nil {
		return code
	}
	v, err := openVault(cfg)
	if err != nil || v == nil {
		fmt.Fprintln(stderr, "idplug vault rekey: vault_keys:", orNone(err))
		return 1
	}
	if !cfg.Store.Enabled() {
		fmt.Fprintln(stderr, "idplug vault rekey: the store is off (store.url: off); there is no vault")
		return 1
	}
	s, err := openStore(context.Background(), cfg, nil, false)
	if err != nil {
		fmt.Fprintln(stderr, "idplug vault rekey:", err)
		return 1
	}
	defer s.Close()
	// A record no configured key opens (its key dropped too early, or the
	// record altered) is left as it is and named: stopping at it would leave
	// every record after it under the old key, which its removal then loses.
	var unopened []string
	skipped := 0
	rekey := func(rec store.TokenRecord) (*store.TokenRecord, error) {
		next, err := v.Rekey(rec)
		if err != nil {
			if skipped++; len(unopened) < maxUnopenedListed {
				unopened = append(unopened, err.Error())
			}
			return nil, nil
		}
		return next, nil
	}
	n, err := s.EachTokens(context.Background(), rekey)
	if err != nil {
		fmt.Fprintf(stderr, "idplug vault rekey: %d records were re-encrypted before this error; run it again to finish (it skips those): %v\n", n, err)
		return 1
	}
	fmt.Fprintf(stdout, "re-encrypted %d vault records under key %s (vault_keys[0])\n", n, v.KeyIDs()[0])
	code = 0
	if skipped > 0 {
		fmt.Fprintf(stderr, "idplug vault rekey: %d records do not open under vault_keys and were left as they are "+
			"(their users sign in again to replace them, or add their key back and run this again):\n", skipped)
		for _, why := range unopened {
			fmt.Fprintln(stderr, "  "+why)
		}
		if skipped > len(unopened) {
			fmt.Fprintf(stderr, "  and %d more\n", skipped-len(unopened))
		}
		code = 1
	}
	if s.Backend() != "sqlite" {
		fmt.Fprintln(stdout, "PostgreSQL keeps the replaced rows until it vacuums the table, and its write-ahead log "+
			"until the log is recycled: run VACUUM FULL vault_tokens before you remove the old key, and mind backups")
		return code
	}
	// Records sealed under the old keys must not linger in SQLite's file: not
	// in its log, nor in the free space of its pages (what was freed before
	// every connection zeroed what it frees, and so before this release).
	if r, ok := s.(store.Rebuilder); ok {
		switch err := r.Rebuild(context.Background()); {
		case errors.Is(err, store.ErrInUse):
			fmt.Fprintln(stdout, "idplug serve is using the store, so its file was not rebuilt: records deleted or replaced "+
				"before this release may remain in its free space, sealed under the old keys; stop idplug serve and run "+
				"idplug vault rekey again before you remove the old key")
		case err != nil:
			fmt.Fprintln(stderr, "idplug vault rekey: the records moved, but rebuilding the store's file failed:", err)
			return 1
		default:
			if skipped > 0 {
				fmt.Fprintf(stdout, "rebuilt the store's file: of what was sealed under an old key, only the %d records named above remain\n", skipped)
				return code
			}
			fmt.Fprintln(stdout, "rebuilt the store's file: nothing sealed under an old key remains in it")
			return code
		}
	}
	if c, ok := s.(store.Checkpointer); ok {
		if err := c.Checkpoint(context.Background()); err != nil {
			fmt.Fprintln(stderr, "idplug vault rekey: the records moved, but the store's log still holds the old ones:", err)
			return 1
		}
		if skipped > 0 {
			fmt.Fprintf(stdout, "checkpointed the store's write-ahead log: of what was sealed under an old key, only the %d records named above remain\n", skipped)
		} else {
			fmt.Fprintln(stdout, "checkpointed the store's write-ahead log: no record sealed under an old key remains in it")
		}
	}
	return code
}

// maxUnopenedListed bounds the records a rekey names that it could not open.
const maxUnopenedListed = 20

// keysCmd runs signing key maintenance for the OpenID Provider: list shows
// the stored keys, rotate makes the next key of each algorithm the signing
// one, withdraw drops keys that leaked at once.
func keysCmd(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: idplug keys list --config idplug.yaml\n" +
		"       idplug keys rotate [--force] --config idplug.yaml\n" +
		"       idplug keys withdraw (--key ID | --all) --config idplug.yaml"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var force, all bool
	var ids stringList
	flags := func(*flag.FlagSet) {}
	switch args[0] {
	case "list":
	case "rotate":
		flags = func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "rotate even if the next key is too new for relying parties' cached key sets (a key that leaked)")
		}
	case "withdraw":
		flags = func(fs *flag.FlagSet) {
			fs.Var(&ids, "key", "the id of a key to withdraw (idplug keys list shows them); give it once for each key")
			fs.BoolVar(&all, "all", false, "withdraw every key and make new ones (the session keys or the store's rows leaked)")
		}
	default:
		fmt.Fprintf(stderr, "idplug keys: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	name := "keys " + args[0]
	path, code := parseFlags(name, args[1:], stderr, flags)
	if code != 0 {
		return code
	}
	// The usage before the configuration: a variable it lacks would hide it.
	if args[0] == "withdraw" && (len(ids) == 0) == !all {
		fmt.Fprintln(stderr, "idplug keys withdraw: name the keys with --key ID (idplug keys list shows them), or give --all; not both")
		return 2
	}
	_, cfg, code := loadConfigFile(path, stderr)
	if cfg == nil {
		return code
	}
	if cfg.Provider == nil {
		fmt.Fprintf(stderr, "idplug %s: the configuration has no provider section; there are no signing keys\n", name)
		return 1
	}
	sealer, err := seal.New(cfg.SessionKeys)
	if err != nil {
		fmt.Fprintf(stderr, "idplug %s: session_keys: %v\n", name, err)
		return 1
	}
	s, err := openStore(context.Background(), cfg, nil, false)
	if err != nil {
		fmt.Fprintf(stderr, "idplug %s: %v\n", name, err)
		return 1
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch args[0] {
	case "list":
		keys, err := oidcprovider.ListKeys(ctx, s, sealer)
		if err != nil {
			fmt.Fprintf(stderr, "idplug %s: %v\n", name, err)
			return 1
		}
		printKeys(stdout, keys)
	case "rotate":
		if err := oidcprovider.RotateKeys(ctx, s, sealer, cfg.Provider.AccessTokenTTL, force); err != nil {
			fmt.Fprintf(stderr, "idplug %s: nothing was changed: %v\n", name, err)
			return 1
		}
		fmt.Fprintln(stdout, "signing keys rotated: the next keys sign now; the previous ones stay published until the tokens they signed expire")
	case "withdraw":
		gone, signing, err := oidcprovider.WithdrawKeys(ctx, s, sealer, cfg.Provider.AccessTokenTTL, ids, all)
		if err != nil {
			fmt.Fprintf(stderr, "idplug %s: nothing was changed: %v\n", name, err)
			return 1
		}
		fmt.Fprintf(stdout, "withdrawn: %s; signing now: %s\n", shownIDs(gone), shownIDs(signing))
		fmt.Fprintln(stdout, "every idplug serve stops publishing and using them within 30 seconds, or at once on a reload; "+
			"relying parties that cached /keys may still accept tokens they sign for up to 5 minutes")
	}
	return 0
}

// shownIDs lists key ids for the terminal: a row's id is whatever a writer of
// the store put there (a withdrawal of every key lists rows that do not open).
func shownIDs(ids []string) string {
	const most = 16
	shown := make([]string, 0, min(len(ids), most))
	for _, id := range ids[:min(len(ids), most)] {
		shown = append(shown, printable.Line(printable.Cut(id, 64)))
	}
	if len(ids) > most {
		shown = append(shown, fmt.Sprintf("and %d more", len(ids)-most))
	}
	return strings.Join(shown, ", ")
}

// stringList is a flag given once for each value.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func printKeys(w io.Writer, keys []oidcprovider.KeyInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tALGORITHM\tSTATE\tCREATED\tPUBLISHED UNTIL")
	for _, k := range keys {
		created, until := "-", "-"
		if !k.Created.IsZero() {
			created = k.Created.UTC().Format(time.RFC3339)
		}
		if !k.RetireAt.IsZero() {
			until = k.RetireAt.UTC().Format(time.RFC3339)
		}
		alg := k.Algorithm
		if alg == "" {
			alg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable.Line(printable.Cut(k.ID, 64)), alg, k.State, created, until)
	}
	tw.Flush()
}

func orNone(err error) string {
	if err != nil {
		return err.Error()
	}
	return "none are configured"
}
