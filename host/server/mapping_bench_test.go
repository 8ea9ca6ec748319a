package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/server"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// benchMapping maps all five profile fields and has an allow rule: what an
// operator's mapping costs at most, short of claims.
var benchMapping = mapping.Spec{
	Fields: map[string]string{
		"id":     `"u-" + raw.id`,
		"name":   `has(raw.name) && raw.name != "" ? raw.name : raw.id`,
		"avatar": `"https://avatars.example/" + raw.id + ".png"`,
		"email":  `raw.id + "@example.com"`,
		"phone":  `raw.?phone.orValue(null)`,
	},
	AllowIDChange: true,
	Allow:         `raw.name == "User" && !raw.id.startsWith("blocked-")`,
}

// newMappedBenchServer is a bench server (no store) whose "fresh" connector
// has mapping m (nil for none).
func newMappedBenchServer(b *testing.B, m *mapping.Mapping) *benchServer {
	b.Helper()
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, "./plugins/oauth2"), "oauth2")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Logger: hclog.NewNullLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	p := instantProviderOf(b, benchProfile)
	cfg, _ := json.Marshal(map[string]any{
		"authorizationEndpoint": p.URL + "/auth", "tokenEndpoint": p.URL + "/token", "userInfoEndpoint": p.URL + "/me",
		"clientId": "fresh", "clientSecret": "secret-0123456789",
	})
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "fresh", Plugin: "oauth2", Config: cfg, Mapping: m}}); err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New([][]byte{[]byte("0123456789abcdef0123456789abcdef-bench")})
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := url.Parse("http://127.0.0.1:1")
	return &benchServer{host: h, srv: server.New(h, sealer, nil, hclog.NewNullLogger(), server.Settings{PublicURL: pub, AccessLog: hclog.NewNullLogger(), KeylessAPI: true})}
}

// BenchmarkSignInMapping: full sign-ins through the real OAuth 2.0 plugin at
// 16 callers, without a mapping and with benchMapping, taking turns in short
// rounds (each in both places of the order) so that a shared machine's drift
// hits both alike. The figures are medians over the rounds: sign-ins per
// second, and this process's CPU time per sign-in (server, provider and
// callers; the plugin's own CPU is left out, so the ratio overstates the
// mapping's share of a whole sign-in). The target: mapped/none CPU <= 1.03.
// Run with: go test -run '^$' -bench 'BenchmarkSignInMapping$' -benchtime 1x ./host/server/
func BenchmarkSignInMapping(b *testing.B) {
	rounds, per := 8, 800*time.Millisecond
	if testing.Short() {
		rounds, per = 2, 100*time.Millisecond
	}
	m, err := mapping.Compile(benchMapping)
	if err != nil {
		b.Fatal(err)
	}
	all := []struct {
		name string
		srv  *benchServer
	}{{"none", newMappedBenchServer(b, nil)}, {"mapped", newMappedBenchServer(b, m)}}
	for _, c := range all {
		if _, _, err := signInsPerSecond(16, per/4, c.srv); err != nil {
			b.Fatal(c.name, ": ", err)
		}
	}
	rates := make([][]float64, len(all))
	cpus := make([][]float64, len(all))
	var ratios, withPlugin []float64
	for r := range rounds {
		round := make([]float64, len(all))
		whole := make([]float64, len(all))
		for k := range all {
			i := (k + r) % len(all)
			before, pluginBefore := cpuTime(), pluginCPUTime(b, all[i].srv)
			rate, n, err := signInsPerSecond(16, per, all[i].srv)
			if err != nil {
				b.Fatal(all[i].name, ": ", err)
			}
			rates[i] = append(rates[i], rate)
			round[i] = float64((cpuTime() - before).Microseconds()) / float64(n)
			whole[i] = round[i] + float64((pluginCPUTime(b, all[i].srv)-pluginBefore).Microseconds())/float64(n)
			cpus[i] = append(cpus[i], round[i])
		}
		ratios = append(ratios, round[1]/round[0])
		withPlugin = append(withPlugin, whole[1]/whole[0])
	}
	for i, c := range all {
		b.ReportMetric(median(rates[i]), c.name+"-signins/s")
		b.ReportMetric(median(cpus[i]), c.name+"-cpu-µs/signin")
	}
	b.ReportMetric(median(ratios), "mapped/none-cpu")
	// The same with the plugin's CPU added: the whole sign-in's CPU (still with
	// the provider's and callers', which run in this process).
	b.ReportMetric(median(withPlugin), "mapped/none-cpu-with-plugin")
}

// BenchmarkMappingApply is the mapping alone: benchMapping on the profile the
// bench provider returns. Besides the wall time it reports this process's CPU
// time per Apply (cpu-ns/op), which a loaded machine disturbs less.
func BenchmarkMappingApply(b *testing.B) {
	m, err := mapping.Compile(benchMapping)
	if err != nil {
		b.Fatal(err)
	}
	u := mappingProfile()
	start, n := cpuTime(), 0
	for b.Loop() {
		if _, err := m.Apply(b.Context(), u); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

// benchProfile is what the bench provider returns for user: with the avatar
// and email benchMapping builds, so that the profile without a mapping is as
// large as the mapped one and both sign-ins carry the same response (the
// mapped id is two bytes longer). Only the mapping's own work differs.
func benchProfile(user string) string {
	return fmt.Sprintf(`{"id":%q,"name":"User","avatar":"https://avatars.example/%s.png","email":"%s@example.com"}`, user, user, user)
}

func mappingProfile() sdk.UserInfo {
	return sdk.UserInfo{ID: "u1", Name: sdk.String("User"), Avatar: sdk.String("https://avatars.example/u1.png"),
		Email: sdk.String("u1@example.com"), RawData: json.RawMessage(benchProfile("u1"))}
}
