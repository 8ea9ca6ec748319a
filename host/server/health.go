package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/printable"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is /readyz's answer: the host's status and the store's.
type readiness struct {
	host.Status
	Store *storeStatus `json:"store,omitempty"`
	// Excluded names the checks the caller left out of ready (?exclude=).
	Excluded []string `json:"excluded,omitempty"`
}

type storeStatus struct {
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// The checks /readyz?exclude= may leave out of its answer, as Kubernetes' own
// /readyz takes them. Every replica runs the same plugins: a plugin that keeps
// crashing fails its connectors on all of them at once, and a readiness probe
// that counted it would take every replica out of the Service, and with them
// the connectors that work and the OpenID Provider.
const (
	checkPlugins = "plugins"
	checkStore   = "store"
)

// excluded reads /readyz's exclude parameters (repeated, or comma-separated).
func excluded(r *http.Request) ([]string, error) {
	var out []string
	for _, v := range r.URL.Query()["exclude"] {
		for name := range strings.SplitSeq(v, ",") {
			switch name {
			case checkPlugins, checkStore:
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			default:
				return nil, badRequest("exclude: %q is not a check of /readyz (%s, %s)", cutQuoted(name), checkPlugins, checkStore)
			}
		}
	}
	return out, nil
}

// cutQuoted bounds a caller's text that an error quotes.
func cutQuoted(s string) string {
	if len(s) > 40 {
		return printable.Cut(s, 40) + "..."
	}
	return s
}

// readiness is ready when every configured connector's plugin process runs and
// the store, if any, answers; a check the caller excludes does not count.
func (s *Server) readiness(ctx context.Context, exclude []string) readiness {
	st := readiness{Status: s.host.Status(), Excluded: exclude}
	if slices.Contains(exclude, checkPlugins) {
		st.Ready = true
	}
	if db := s.settings.Store; db != nil {
		st.Store = &storeStatus{Backend: db.Backend(), OK: true}
		if err := s.storeProbe.ping(ctx, db); err != nil {
			st.Store.OK, st.Store.Error = false, "the store cannot be reached"
			if ro := (store.ErrReadOnly{}); errors.As(err, &ro) {
				st.Store.Error = "the store takes no writes: " + ro.Why
			}
			if !slices.Contains(exclude, checkStore) {
				st.Ready = false
			}
		}
	}
	return st
}

// Store pings for /readyz, which anyone may call on the main listener: a
// flood of them must not take the database connections sign-ins need.
const (
	// probeFresh is how long a ping's answer is given to later /readyz calls.
	probeFresh = time.Second
	// probeTimeout bounds one ping, whatever the caller's deadline.
	probeTimeout = 5 * time.Second
)

// storeProbe pings the store at most once per probeFresh, one ping at a time;
// calls in between get the last answer.
type storeProbe struct {
	mu      sync.Mutex
	running bool
	at      time.Time
	err     error
}

func (p *storeProbe) ping(ctx context.Context, db interface{ Ping(context.Context) error }) error {
	p.mu.Lock()
	if p.running || (!p.at.IsZero() && time.Since(p.at) < probeFresh) {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.running = true
	p.mu.Unlock()
	// The caller going away does not make the store unreachable.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	err := db.Ping(ctx)
	cancel()
	p.mu.Lock()
	p.running, p.at, p.err = false, time.Now(), err
	p.mu.Unlock()
	return err
}

// readyzDetailed is ready when every configured connector's plugin process runs
// and the store answers, with every detail: for the admin listener, or the main
// one without it.
func (s *Server) readyzDetailed(w http.ResponseWriter, r *http.Request) {
	st, ok := s.readinessFor(w, r)
	if ok {
		writeJSON(w, readyStatus(st.Status), st)
	}
}

// readyzPublic gives the details without the server's file system: a refusal's
// reason names files by their base name only.
func (s *Server) readyzPublic(w http.ResponseWriter, r *http.Request) {
	st, ok := s.readinessFor(w, r)
	if !ok {
		return
	}
	refused := make([]catalog.Entry, len(st.Refused))
	for i, e := range st.Refused {
		refused[i] = catalog.Entry{File: filepath.Base(e.File), Reason: withoutPaths(e.Reason)}
	}
	st.Refused = refused
	writeJSON(w, readyStatus(st.Status), st)
}

// readyzBare is the main listener's /readyz when the details have a listener of
// their own.
func (s *Server) readyzBare(w http.ResponseWriter, r *http.Request) {
	st, ok := s.readinessFor(w, r)
	if ok {
		writeJSON(w, readyStatus(st.Status), map[string]bool{"ready": st.Ready})
	}
}

// readinessFor answers a request's readiness, or writes why its exclude
// parameter cannot be read.
func (s *Server) readinessFor(w http.ResponseWriter, r *http.Request) (readiness, bool) {
	exclude, err := excluded(r)
	if err != nil {
		writeError(w, r, err)
		return readiness{}, false
	}
	return s.readiness(r.Context(), exclude), true
}

func readyStatus(st host.Status) int {
	if st.Ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// absolutePath matches an absolute file path in a message.
var absolutePath = regexp.MustCompile(`(^|[\s"'(=:])(/[^\s"'():,;]+)`)

// withoutPaths replaces every absolute path in msg by its base name.
func withoutPaths(msg string) string {
	return absolutePath.ReplaceAllStringFunc(msg, func(m string) string {
		loc := absolutePath.FindStringSubmatchIndex(m)
		return m[:loc[4]] + filepath.Base(m[loc[4]:])
	})
}
