package main

import (
	"context"
	"fmt"
	"os"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/plugins/oauth2/oauth2connector"
	"github.com/idplug/idplug/sdk"
)

// signInCase is one way of completing a sign-in.
type signInCase struct {
	key   string
	label string
	// pids are the processes whose CPU time is reported per sign-in, by role.
	pids  func(e *env) map[string]int
	op    func(e *env) suite.Op
	logto bool
	// full sign-ins start with the authorization URL (Logto's, when logto is set).
	full bool
}

// fullV1 is a whole sign-in through /v1: authorization-uri, then user-info.
func fullV1(v *suite.V1) suite.Op {
	return func(ctx context.Context, w, i int) error {
		f, err := v.Authorize(ctx, "bench")
		if err != nil {
			return err
		}
		return wantID(v.UserInfo(ctx, "bench", f, "bench-code"))
	}
}

// wantID fails a sign-in that did not end with the stub's user.
func wantID(id string, err error) error {
	if err == nil && id != stub.UserID {
		err = fmt.Errorf("signed in as %q, want %q", id, stub.UserID)
	}
	return err
}

// signInCases are measured round by round, at each of concurrencies.
var signInCases = []signInCase{
	{
		key: "v1", label: "idplug serve, /v1 HTTP API",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": e.serve.PID, "plugin": e.servePl, "stub": e.stub.PID, "client": os.Getpid()}
		},
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				return wantID(e.v1.UserInfo(ctx, "bench", e.v1Flows[(w+i*16)%flowsPerCase], "bench-code"))
			}
		},
	},
	{
		key: "full", label: "full: /v1, default (SQLite store)",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": e.serveDefault.PID, "plugin": e.serveDefaultPl, "stub": e.stub.PID, "client": os.Getpid()}
		},
		op:   func(e *env) suite.Op { return fullV1(e.v1Default) },
		full: true,
	},
	{
		key: "fulloff", label: "full: /v1, store: {url: off}",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": e.serve.PID, "plugin": e.servePl, "stub": e.stub.PID, "client": os.Getpid()}
		},
		op:   func(e *env) suite.Op { return fullV1(e.v1) },
		full: true,
	},
	{
		key: "logtofull", label: "full: Logto connector-oauth, Node",
		pids:  func(e *env) map[string]int { return map[string]int{"node": e.logto.PID, "stub": e.stub.PID} },
		logto: true,
		full:  true,
	},
	{
		key: "host", label: "host package (Go API)",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": os.Getpid(), "plugin": e.hostPl, "stub": e.stub.PID}
		},
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				k := (w + i*16) % flowsPerCase
				res, err := e.host.UserInfo(ctx, "bench", e.hostSes[k], map[string]string{"code": "bench-code", "state": e.hostSes[k]["state"]})
				if err != nil {
					return err
				}
				return wantID(res.UserInfo.ID, nil)
			}
		},
	},
	{
		key: "inprocess", label: "oauth2 connector in-process",
		pids: func(e *env) map[string]int { return map[string]int{"host": os.Getpid(), "stub": e.stub.PID} },
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				k := (w + i*16) % flowsPerCase
				res, err := oauth2connector.New().UserInfo(ctx, e.inproc, sdk.UserInfoRequest{InstanceID: "bench", Session: e.inSes[k],
					Callback: map[string]string{"code": "bench-code", "state": e.inSes[k]["state"]}})
				if err != nil {
					return err
				}
				return wantID(res.UserInfo.ID, nil)
			}
		},
	},
	{
		key: "logto", label: "Logto connector-oauth, Node",
		pids:  func(e *env) map[string]int { return map[string]int{"node": e.logto.PID, "stub": e.stub.PID} },
		logto: true,
	},
	{
		key: "bridge", label: "host -> Logto connector-oauth bridge",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": os.Getpid(), "plugin": e.bridge.plugin, "node": e.bridge.node, "stub": e.stub.PID}
		},
		op: func(e *env) suite.Op { return e.bridge.op() },
	},
	{
		key: "xoauth2", label: "golang.org/x/oauth2 + GET (floor)",
		pids: func(e *env) map[string]int { return map[string]int{"host": os.Getpid(), "stub": e.stub.PID} },
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error { return wantID(e.floor.SignIn(ctx, "bench-code")) }
		},
	},
}

var concurrencies = []int{1, 16}
