package hosttest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/kitconn"
	"github.com/idplug/idplug/internal/kitrecord"
)

// TestBinary runs the kit against built plugins, through the host: the defects that
// only show over the wire (a crash), and the others as the wire reports them.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	built := filepath.Join(t.TempDir(), "idplug-connector-kit")
	if err := gobuild.Build(t.Context(), ".", "./testdata/kitplugin", built); err != nil {
		t.Fatal(err)
	}
	// The plugin takes its defect from its file name.
	withDefect := func(t *testing.T, defect string) string {
		if defect == kitconn.None {
			return built
		}
		path := filepath.Join(t.TempDir(), "idplug-connector-kit-"+defect)
		if err := os.Link(built, path); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("good", func(t *testing.T) {
		rec := kitrecord.Run(t, hosttest.Binary(built), kitconn.KitOptions(t, true))
		if failed := rec.Failed(); len(failed) > 0 {
			t.Fatalf("failed checks %v:%s", failed, rec)
		}
	})
	for _, d := range []struct {
		defect string
		want   []string
		msg    string
	}{
		{kitconn.LogToken, []string{"secrets/never-shown"}, "a log line shows a code or token the provider issued"},
		{kitconn.AccessTokenInRawData, []string{"secrets/profile"}, "the profile's rawData carries an access token the provider issued (at rawData.token.access_token)"},
		{kitconn.IgnoreAuthMethod, []string{"signin/client-auth"}, `with tokenEndpointAuthMethod "client_secret_basic", the connector authenticated with client_secret_post`},
		{kitconn.NoEnglishName, []string{""}, "name.en: is required"},
		{kitconn.PanicOnGarbageConfig, []string{"config/garbage"}, "ParseConfig panicked: unexpected configuration"},
		{kitconn.AccessDeniedGeneral, []string{"callback/access-denied"}, "code general"},
		{kitconn.CrashOnAccessDenied, []string{"callback/access-denied"}, "the plugin process died during UserInfo"},
		{kitconn.PanicOnHugeCallback, []string{"callback/garbage"}, "UserInfo panicked: callback value too large"},
		{kitconn.FormKeyMismatch, []string{"config/form-items"}, `"scopes" set to ""`},
	} {
		t.Run(d.defect, func(t *testing.T) {
			signIn := strings.HasPrefix(d.want[0], "secrets/") || strings.HasPrefix(d.want[0], "signin/")
			rec := kitrecord.Run(t, hosttest.Binary(withDefect(t, d.defect)), kitconn.KitOptions(t, signIn))
			kitrecord.AssertFailed(t, rec, d.want, d.msg)
		})
	}
	t.Run(kitconn.HangOnAccessDenied, func(t *testing.T) {
		opts := kitconn.KitOptions(t, false)
		opts.CallTimeout = time.Second
		rec := kitrecord.Run(t, hosttest.Binary(withDefect(t, kitconn.HangOnAccessDenied)), opts)
		kitrecord.AssertFailed(t, rec, []string{"callback/access-denied"}, "UserInfo did not return within 1s")
	})
}
