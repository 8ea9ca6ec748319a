package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/server"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/internal/plugintest"
)

// The state benchmarks: full sign-ins (authorization-uri, then user-info)
// through the HTTP handler and the real OAuth 2.0 plugin, against a provider
// that answers at once, so that what the store adds shows; and vault reads.
// Run with: go test -run ^$ -bench 'BenchmarkSignIn$|BenchmarkVaultRead' -benchtime 2s ./host/server/

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// instantProvider issues a token for any code, to the user the code names
// (u1 for a refresh): expires_in 3600 for client "fresh", 5 (inside the
// vault's refresh margin) for "stale".
func instantProvider(tb testing.TB) *httptest.Server {
	return instantProviderOf(tb, func(user string) string { return fmt.Sprintf(`{"id":%q,"name":"User"}`, user) })
}

// instantProviderOf is instantProvider answering user-info with profile(user).
func instantProviderOf(tb testing.TB, profile func(user string) string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			_ = r.ParseForm()
			exp := 3600
			if r.PostForm.Get("client_id") == "stale" {
				exp = 5
			}
			user := r.PostForm.Get("code")
			if user == "" {
				user = "u1"
			}
			fmt.Fprintf(w, `{"access_token":"at.%s.%d","refresh_token":"rt","token_type":"Bearer","expires_in":%d}`, user, time.Now().UnixNano(), exp)
		case "/me":
			user := strings.Split(r.Header.Get("Authorization"), ".")
			if len(user) != 3 {
				http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, profile(user[1]))
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

type benchServer struct {
	srv  *server.Server
	host *host.Host
	// users counts sign-ins, each for the next of a thousand users: the
	// vault keeps one record per user, and real sign-ins are of many users.
	users atomic.Int64
}

func newBenchServer(b *testing.B, st store.Store, keepTokens bool) *benchServer {
	b.Helper()
	return newTracedBenchServer(b, st, keepTokens, nil)
}

// newTracedBenchServer is newBenchServer with tr tracing the server and its plugin.
func newTracedBenchServer(b *testing.B, st store.Store, keepTokens bool, tr *tracing.Tracing) *benchServer {
	b.Helper()
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, "./plugins/oauth2"), "oauth2")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Logger: hclog.NewNullLogger(), Tracing: tr})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	p := instantProvider(b)
	var conns []host.InstanceConfig
	for _, id := range []string{"fresh", "stale"} {
		cfg, _ := json.Marshal(map[string]any{
			"authorizationEndpoint": p.URL + "/auth", "tokenEndpoint": p.URL + "/token", "userInfoEndpoint": p.URL + "/me",
			"clientId": id, "clientSecret": "secret-0123456789", "storeTokens": true,
		})
		conns = append(conns, host.InstanceConfig{ID: id, Plugin: "oauth2", Config: cfg})
	}
	if err := h.Configure(context.Background(), conns); err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New([][]byte{[]byte("0123456789abcdef0123456789abcdef-bench")})
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.New([][]byte{[]byte("vault-0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := url.Parse("http://127.0.0.1:1")
	srv := server.New(h, sealer, nil, hclog.NewNullLogger(), server.Settings{PublicURL: pub, Store: st, Vault: v, AccessLog: hclog.NewNullLogger(), KeylessAPI: true, Tracing: tr})
	if keepTokens {
		srv.SetTokenStorage([]string{"fresh", "stale"})
	}
	return &benchServer{srv: srv, host: h}
}

func (s *benchServer) do(method, path string, body any) (int, map[string]any) {
	var r *bytes.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	} else {
		r = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, r)
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// signIn signs in the next user; signInAs a given one.
func (s *benchServer) signIn(id string) error {
	return s.signInAs(id, fmt.Sprint("u", s.users.Add(1)%1000))
}

func (s *benchServer) signInAs(id, user string) error {
	status, auth := s.do("POST", "/v1/connectors/"+id+"/authorization-uri", map[string]any{"redirectUri": "https://app.test/cb"})
	if status != 200 {
		return fmt.Errorf("authorization-uri: %d %v", status, auth)
	}
	status, res := s.do("POST", "/v1/connectors/"+id+"/user-info", map[string]any{
		"session": auth["session"], "data": map[string]string{"code": user, "state": auth["state"].(string)}})
	if status != 200 {
		return fmt.Errorf("user-info: %d %v", status, res)
	}
	return nil
}

func benchStores(b *testing.B) []struct {
	name string
	open func(b *testing.B) store.Store
} {
	return []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"off", func(*testing.B) store.Store { return nil }},
		{"sqlite", func(b *testing.B) store.Store {
			return openBenchStore(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), true)
		}},
		// As before consumed flows moved to memory: each one written at once.
		{"sqlite-disk", func(b *testing.B) store.Store {
			return openBenchStore(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), false)
		}},
		{"postgres", func(b *testing.B) store.Store { return openBenchStore(b, pgtest.Start(b).URL, true) }},
	}
}

// openBenchStore opens the store at u as idplug serve does: with inMemory,
// SQLite keeps consumed flows in memory (store.KeepFlowsInMemory; PostgreSQL
// is unaffected).
func openBenchStore(b *testing.B, u string, inMemory bool) store.Store {
	raw, err := store.Open(context.Background(), u, store.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	s := store.Timed(raw, 5*time.Second, 15*time.Second, nil)
	if inMemory {
		if s, err = store.KeepFlowsInMemory(context.Background(), raw, s, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkSignIn: full sign-ins per second at 1 and 16 callers, and the
// store's cost as ratios to no store, the way its targets are set (at 16
// callers, SQLite at least 0.8x and PostgreSQL at least 0.7x). Store off,
// SQLite and PostgreSQL (each also with tokens sealed into the vault) take
// turns in short rounds, each in every place of the order, so that a shared
// machine whose speed drifts over a minute drifts for all of them alike. Each
// ratio is taken within its round; the figures are medians over the rounds,
// with the CPU time of this process (server, provider and callers; not the
// plugin) per sign-in. The body does not use b.N: -benchtime 1x runs it once.
func BenchmarkSignIn(b *testing.B) {
	rounds, per := 7, 600*time.Millisecond
	if testing.Short() {
		rounds, per = 1, 100*time.Millisecond
	}
	type contender struct {
		name string
		srv  *benchServer
	}
	var all []contender
	for _, st := range benchStores(b) {
		db := st.open(b)
		all = append(all, contender{st.name, newBenchServer(b, db, false)})
		if db != nil && st.name != "sqlite-disk" {
			all = append(all, contender{st.name + "+vault", newBenchServer(b, db, true)})
		}
	}
	for _, c := range all { // warm up pools, connections and prepared statements
		if _, _, err := signInsPerSecond(16, per/4, c.srv); err != nil {
			b.Fatal(c.name, ": ", err)
		}
	}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			rates := make([][]float64, len(all))
			ratios := make([][]float64, len(all))
			cpus := make([][]float64, len(all))
			for r := range rounds {
				round := make([]float64, len(all))
				for k := range all {
					i := (k + r) % len(all)
					before := cpuTime()
					rate, n, err := signInsPerSecond(conc, per, all[i].srv)
					if err != nil {
						b.Fatal(all[i].name, ": ", err)
					}
					round[i] = rate
					cpus[i] = append(cpus[i], float64((cpuTime()-before).Microseconds())/float64(n))
				}
				for i := range all {
					rates[i] = append(rates[i], round[i])
					ratios[i] = append(ratios[i], round[i]/round[0])
				}
			}
			for i, c := range all {
				b.ReportMetric(median(rates[i]), c.name+"-signins/s")
				b.ReportMetric(median(cpus[i]), c.name+"-cpu-µs/signin")
				if i > 0 {
					b.ReportMetric(median(ratios[i]), c.name+"/off")
				}
			}
		})
	}
}

// BenchmarkVaultRead: a vault read of fresh tokens, and of tokens that expire
// within the margin (each read refreshes at the provider), on SQLite and PostgreSQL.
func BenchmarkVaultRead(b *testing.B) {
	for _, st := range benchStores(b)[1:] {
		if st.name == "sqlite-disk" { // flows only: the vault is written the same
			continue
		}
		b.Run(st.name, func(b *testing.B) {
			s := newBenchServer(b, st.open(b), true)
			for _, id := range []string{"fresh", "stale"} {
				if err := s.signInAs(id, "u1"); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range []struct{ name, id string }{{"no-refresh", "fresh"}, {"refresh", "stale"}} {
				id := c.id
				b.Run(c.name, func(b *testing.B) {
					runConcurrent(b, 1, func() error {
						status, body := s.do("GET", "/v1/connectors/"+id+"/users/u1/tokens", nil)
						if status != 200 {
							return fmt.Errorf("vault read: %d %v", status, body)
						}
						return nil
					})
				})
			}
		})
	}
}

// runConcurrent runs op b.N times over c goroutines and reports operations per second.
func runConcurrent(b *testing.B, c int, op func() error) {
	var next atomic.Int64
	errs := make(chan error, c)
	b.ResetTimer()
	start := time.Now()
	for range c {
		go func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range c {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// signInsPerSecond runs sign-ins on conc goroutines for d and returns their
// rate and number.
func signInsPerSecond(conc int, d time.Duration, s *benchServer) (float64, int, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	start := time.Now()
	end := start.Add(d)
	for range conc {
		wg.Go(func() {
			n := 0
			var err error
			for time.Now().Before(end) {
				if err = s.signIn("fresh"); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			total += n
			if first == nil {
				first = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds(), total, first
}

// cpuTime is the CPU time this process (the server, the provider and the
// callers; not the plugin) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
