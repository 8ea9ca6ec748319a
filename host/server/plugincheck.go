package server

import (
	"context"
	"fmt"
	"net/url"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// What a plugin returns is checked before the host acts on it: a plugin is
// third-party code, and its answer goes to browsers.

// authorize starts a sign-in with connector id and checks the plugin's answer.
func (s *Server) authorize(ctx context.Context, id, redirectURI, state string, opts ...host.AuthorizationOption) (*sdk.Authorization, error) {
	auth, err := s.host.AuthorizationURI(ctx, id, redirectURI, state, opts...)
	if err != nil {
		return nil, err
	}
	if err := checkRedirectTo(auth.RedirectTo); err != nil {
		return nil, s.pluginFault(id, "a redirectTo that %s", err)
	}
	return auth, nil
}

// maxRedirectTo bounds an authorization URL: each anonymous /sign-in answers it
// twice (Location and the redirect's body), and no browser follows one longer.
const maxRedirectTo = 32 << 10

// checkRedirectTo accepts only an absolute http(s) URL: a javascript: or data: URL
// would run in the browser sent there, a relative one would stay on this site.
func checkRedirectTo(raw string) error {
	if len(raw) > maxRedirectTo {
		return fmt.Errorf("is longer than %d bytes", maxRedirectTo)
	}
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("is empty")
	case err != nil:
		return fmt.Errorf("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("is not an http(s) URL")
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("is not an absolute URL")
	}
	return nil
}

// pluginFault is an invalid_response naming the connector and its plugin.
func (s *Server) pluginFault(id, format string, args ...any) error {
	plugin := "?"
	if d, err := s.host.Instance(id); err == nil {
		plugin = d.Plugin
	}
	return &sdk.Error{Code: sdk.CodeInvalidResponse,
		Message: fmt.Sprintf("connector %s (plugin %s) returned ", id, plugin) + fmt.Sprintf(format, args...)}
}
