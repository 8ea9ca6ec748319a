package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/internal/ratelimit"
)

// BenchmarkAPIKeyCheck measures the key check with its failure limiter: a good key
// (the limiter is only read), and wrong keys from ever new addresses (the limiter's
// table filled to its cap, then the shared overflow window).
func BenchmarkAPIKeyCheck(b *testing.B) {
	key := "k1-0123456789abcdef0123456789abcdef"
	s := &Server{badKeys: ratelimit.New(maxKeyFailures, keyFailureWindow, maxTrackedAddrs)}
	s.secrets.Store(newSecrets([]apikey.Key{apikey.Unscoped(key), apikey.Unscoped("k2-0123456789abcdef0123456789abcdef")}, nil))
	ok := s.requireAPIKey(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	run := func(b *testing.B, token string, addr func(i int) string) {
		req := httptest.NewRequest("GET", "/v1/connectors", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			req.RemoteAddr = addr(i)
			ok.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	b.Run("good key", func(b *testing.B) {
		run(b, key, func(int) string { return "192.0.2.1:1234" })
	})
	b.Run("wrong keys from many addresses", func(b *testing.B) {
		s.badKeys = ratelimit.New(maxKeyFailures, keyFailureWindow, maxTrackedAddrs)
		s.badKeys.SetClock(func() time.Time { return time.Unix(1000, 0) })
		run(b, "wrong-0123456789abcdef0123456789abcdef", func(i int) string {
			return "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + ":1"
		})
	})
}
