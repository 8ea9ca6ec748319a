package image_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/idplug/idplug/internal/containertest"
	"github.com/idplug/idplug/internal/testport"
)

// BenchmarkContainerStartToReady: from `docker run` to the first 200 from
// /readyz (every plugin started, sandboxed, and the SQLite store open), for each
// image, with one OAuth 2.0 connector configured. It reports the image's size too.
//
//	go test -run '^$' -bench ContainerStartToReady -benchtime 10x ./deploy/image
func BenchmarkContainerStartToReady(b *testing.B) {
	for _, tc := range []struct{ image, plugin string }{{"idplug", "oauth2"}, {"idplug-logto", "logto-oauth2"}} {
		b.Run(tc.image, func(b *testing.B) {
			e := containertest.Start(b)
			image := e.Image(b, tc.image)
			size, err := e.Docker(b.Context(), "image", "inspect", "-f", "{{.Size}}", image)
			if err != nil {
				b.Fatal(err)
			}
			op := containertest.StartProvider(b)
			s := &setup{e: e, op: op}
			for b.Loop() {
				b.StopTimer()
				s.port = testport.Free(b)
				dir := s.configDir(b, s.port, tc.plugin, "sqlite:/data/idplug.db")
				b.StartTimer()
				c := s.run(b, image, dir)
				c.WaitReady(b, fmt.Sprintf("http://127.0.0.1:%d/readyz", s.port))
				b.StopTimer()
				c.Remove(b)
				b.StartTimer()
			}
			bytes, _ := strconv.ParseFloat(size, 64)
			b.ReportMetric(bytes/1e6, "image-MB")
		})
	}
}
