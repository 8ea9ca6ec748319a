package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/plugins/oauth2/oauth2connector"
	"github.com/idplug/idplug/sdk"
)

// state is as long as the states idplug makes (32 random bytes, base64url).
const state = "c3RhdGUtMDEyMzQ1Njc4OWFiY2RlZi0wMTIzNDU2Nzg5"

// env holds what every sign-in case runs against.
type env struct {
	o       options
	tmp     string
	stub    *stubProc
	serve   *suite.Serve
	servePl int // the plugin process of idplug serve
	v1      *suite.V1
	// serveDefault is idplug serve with the default store (SQLite), for full sign-ins.
	serveDefault   *suite.Serve
	serveDefaultPl int
	v1Default      *suite.V1
	v1Flows        []suite.Flow
	host           *host.Host
	hostPl         int
	hostSes        []sdk.Session
	inproc         *oauth2connector.Instance
	inSes          []sdk.Session
	floor          *suite.Floor
	logto          *logto
	bridge         *bridge
}

// flowsPerCase is how many flows a case opens and completes in turn.
const flowsPerCase = 64

// setup starts everything the sign-in cases run against and opens the flows the
// serve, host and in-process cases complete; on an error it also returns what it
// started so far (nil if nothing), for close.
func setup(o options, tmp string, st *stubProc) (*env, error) {
	e := &env{o: o, tmp: tmp, stub: st}
	ctx := context.Background()
	cfg := suite.ConnectorConfig(st.URL)
	raw := suite.ConnectorConfigJSON(st.URL)

	// idplug serve with the oauth2 plugin.
	serveDir := filepath.Join(tmp, "serve")
	if err := suite.PluginFolder(filepath.Join(serveDir, "plugins"), o.plugin, "oauth2"); err != nil {
		return nil, err
	}
	s, err := suite.StartServe(o.idplug, filepath.Join(serveDir, "plugins"), serveDir, o.logLevel,
		[]map[string]any{{"id": "bench", "plugin": "oauth2", "config": cfg}})
	if err != nil {
		return nil, err
	}
	e.serve = s
	if pids := s.PluginPIDs(); len(pids) == 1 {
		e.servePl = pids[0]
	} else {
		return e, fmt.Errorf("idplug serve runs %d plugin processes, want 1", len(pids))
	}
	e.v1 = newV1(o, s)

	// idplug serve as an operator runs it: the default store, SQLite.
	defDir := filepath.Join(tmp, "serve-default")
	if err := suite.PluginFolder(filepath.Join(defDir, "plugins"), o.plugin, "oauth2"); err != nil {
		return e, err
	}
	sd, err := suite.StartServeWithStore(o.idplug, filepath.Join(defDir, "plugins"), defDir, o.logLevel, "",
		[]map[string]any{{"id": "bench", "plugin": "oauth2", "config": cfg}}, o.serveExtra)
	if err != nil {
		return e, err
	}
	e.serveDefault = sd
	if pids := sd.PluginPIDs(); len(pids) == 1 {
		e.serveDefaultPl = pids[0]
	} else {
		return e, fmt.Errorf("idplug serve (default store) runs %d plugin processes, want 1", len(pids))
	}
	e.v1Default = newV1(o, sd)
	for range flowsPerCase {
		f, err := e.v1.Authorize(ctx, "bench")
		if err != nil {
			return e, err
		}
		e.v1Flows = append(e.v1Flows, f)
	}

	// The host package, in this process.
	hostDir := filepath.Join(tmp, "host-plugins")
	if err := suite.PluginFolder(hostDir, o.plugin, "oauth2"); err != nil {
		return e, err
	}
	h, err := host.Open(ctx, host.Options{PluginDir: hostDir})
	if err != nil {
		return e, err
	}
	e.host = h
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "bench", Plugin: "oauth2", Config: raw}}); err != nil {
		return e, err
	}
	p, _ := h.Plugin("oauth2")
	e.hostPl = p.PID()
	for i := range flowsPerCase {
		a, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, fmt.Sprintf("%s%03d", state[:len(state)-3], i))
		if err != nil {
			return e, err
		}
		e.hostSes = append(e.hostSes, a.Session)
	}

	// The same connector in-process.
	if e.inproc, err = oauth2connector.New().ParseConfig(raw); err != nil {
		return e, err
	}
	for i := range flowsPerCase {
		a, err := oauth2connector.New().AuthorizationURI(ctx, e.inproc, sdk.AuthorizationRequest{
			InstanceID: "bench", RedirectURI: suite.RedirectURI, State: fmt.Sprintf("%s%03d", state[:len(state)-3], i)})
		if err != nil {
			return e, err
		}
		e.inSes = append(e.inSes, a.Session)
	}

	e.floor = suite.NewFloor(st.URL)

	if e.logto, err = startLogto(o.node, o.logtoDir, cfg, state, stub.UserID); err != nil {
		return e, err
	}
	if e.bridge, err = startBridge(o, tmp, cfg); err != nil {
		return e, fmt.Errorf("the Logto bridge: %w", err)
	}
	return e, nil
}

// close stops what setup started.
func (e *env) close() {
	for _, v := range []*suite.V1{e.v1, e.v1Default} {
		if v != nil && v.Lean != nil {
			v.Lean.Close()
		}
	}
	if e.bridge != nil {
		e.bridge.close()
	}
	if e.logto != nil {
		e.logto.Stop()
	}
	if e.host != nil {
		_ = e.host.Close()
	}
	if e.serve != nil {
		e.serve.Stop()
	}
	if e.serveDefault != nil {
		e.serveDefault.Stop()
	}
}

// newV1 is the load generator's /v1 client of s: the lean one unless -client
// nethttp asks for net/http's.
func newV1(o options, s *suite.Serve) *suite.V1 {
	v := &suite.V1{URL: s.URL, Key: s.APIKey, Client: suite.NewHTTPClient()}
	if o.client == "lean" {
		v.Lean = &suite.LeanClient{Addr: strings.TrimPrefix(s.URL, "http://")}
	}
	return v
}
