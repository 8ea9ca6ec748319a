package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
)

// minimalConfigs are configurations each connector's guard accepts.
var minimalConfigs = map[string]map[string]any{
	"oauth":      {"authorizationEndpoint": "https://op.example/authorize", "tokenEndpoint": "https://op.example/token", "userInfoEndpoint": "https://op.example/userinfo", "clientId": "c", "clientSecret": "s"},
	"github":     {"clientId": "c", "clientSecret": "s"},
	"google":     {"clientId": "c", "clientSecret": "s"},
	"discord":    {"clientId": "c", "clientSecret": "s"},
	"facebook":   {"clientId": "c", "clientSecret": "s"},
	"apple":      {"clientId": "c"},
	"azuread":    {"clientId": "c", "clientSecret": "s", "tenantId": "t", "cloudInstance": "https://login.microsoftonline.com"},
	"wechat-web": {"appId": "a", "appSecret": "s"},
}

// BenchmarkBridgeStart measures, per connector of the default bundle, the first
// configuration of an instance (the plugin checks the bundle's digests, starts Node,
// Node imports the connector, the guard checks the config) and the resident memory
// of the plugin and of its Node afterwards, with one authorization URL made.
//
//	go test -run '^$' -bench BridgeStart -benchtime 3x ./plugins/logto
func BenchmarkBridgeStart(b *testing.B) {
	for _, name := range []string{"oauth", "github", "google", "apple", "discord", "facebook", "azuread", "wechat-web"} {
		b.Run(name, func(b *testing.B) {
			var pluginKiB, nodeKiB int
			for b.Loop() {
				b.StopTimer()
				dir := productionFolder(b, name)
				h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				id := h.Plugins()[0].Proc.Metadata().ID
				b.StartTimer()
				err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "x", Plugin: id, Config: mustJSON(b, minimalConfigs[name])}})
				b.StopTimer()
				if err != nil {
					b.Fatalf("Configure: %v", err)
				}
				if _, err := h.AuthorizationURI(context.Background(), "x", "https://idplug.example/callback/x", "st-bench"); err != nil {
					b.Fatalf("AuthorizationURI: %v", err)
				}
				proc, _ := h.Plugin(id)
				pluginKiB = rssKiB(proc.PID())
				if kids := children(proc.PID()); len(kids) == 1 {
					nodeKiB = rssKiB(kids[0])
				}
				_ = h.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(pluginKiB), "plugin-KiB")
			b.ReportMetric(float64(nodeKiB), "node-KiB")
		})
	}
}

// BenchmarkVerifyBundle is the digest check of the default bundle that runs before
// every Node start.
func BenchmarkVerifyBundle(b *testing.B) {
	dir := productionFolder(b)
	bd, err := openBundle(dir + "/" + bundleDirName)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := bd.verify(); err != nil {
			b.Fatal(err)
		}
	}
}

func rssKiB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
