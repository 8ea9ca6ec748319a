package server

import (
	"github.com/idplug/idplug/host/accesslog"
	"github.com/idplug/idplug/internal/printable"
	"html/template"
	"net/http"
	"strings"

	"github.com/idplug/idplug/host"
)

var homeTemplate = template.Must(template.New("home").Funcs(template.FuncMap{"safeURL": safeURL}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>idplug</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f5f6fa; color: #1f2330; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  main { background: #fff; padding: 2.5rem 3rem; border-radius: 12px; box-shadow: 0 2px 16px rgba(0,0,0,.08); min-width: 320px; }
  h1 { font-size: 1.4rem; margin: 0 0 1.5rem; }
  a.button, button { display: flex; align-items: center; gap: .75rem; width: 100%; box-sizing: border-box; padding: .75rem 1rem; margin: .5rem 0;
    border: 1px solid #d0d4e0; border-radius: 8px; background: #fff; color: inherit; font: inherit; font-size: 1rem; text-decoration: none; cursor: pointer; }
  a.button:hover, button:hover { background: #f0f2f8; }
  img { width: 24px; height: 24px; }
  .error { color: #b3261e; }
  .muted { color: #6b7080; font-size: .9rem; }
  .profile { display: flex; align-items: center; gap: 1rem; margin-bottom: 1rem; }
  .profile h1 { margin: 0; }
  img.avatar { width: 56px; height: 56px; border-radius: 50%; object-fit: cover; background: #e4e7f0; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; margin: 0 0 1.5rem; }
  dt { color: #6b7080; }
  dd { margin: 0; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
{{if .Error}}
  <h1 class="error">{{.ErrorTitle}}</h1>
  <p class="error" id="error-code">{{.Error.Code}}</p>
  <p>{{.Error.Message}}</p>
  <a class="button" href="{{.Prefix}}/">Back</a>
{{else if .ConfirmSignOut}}
  <h1>Sign out?</h1>
  {{with .User}}<p class="muted">Signed in as {{.UserInfo.ID}}</p>{{end}}
  <form method="post" action="{{if .SignOutAction}}{{.SignOutAction}}{{else}}{{.Prefix}}/sign-out{{end}}">
  {{range $k, $v := .SignOutFields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
  <button id="sign-out" type="submit">Sign out</button></form>
  <a class="button" href="{{.Prefix}}/">Back</a>
{{else if .ConfirmApp}}
  <h1>Continue to {{.ConfirmApp.Client}}?</h1>
  {{with .User}}<p class="muted">Signed in as {{.UserInfo.ID}}</p>{{end}}
  <p>An app asks to sign you in. Your sign-in goes to <code id="app-target">{{.ConfirmApp.Target}}</code>. Continue only if you started this sign-in yourself.</p>
  <form method="post" action="{{.ConfirmApp.Action}}">
  {{range $k, $v := .ConfirmApp.Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
  <button id="continue" type="submit">Continue</button></form>
  <form method="post" action="{{.ConfirmApp.Action}}">
  {{range $k, $v := .ConfirmApp.Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
  <input type="hidden" name="deny" value="1"><button id="deny" type="submit">Cancel</button></form>
{{else if .User}}
  <div class="profile">
  {{with .Profile.Avatar}}<img class="avatar" id="avatar" src="{{safeURL .}}" alt="">{{end}}
  <h1 id="greeting">Hello, {{.User.UserInfo.ID}}</h1>
  </div>
  <dl>
  {{with .Profile.Name}}<dt>Name</dt><dd id="user-name">{{.}}</dd>{{end}}
  {{with .Profile.Email}}<dt>Email</dt><dd id="user-email">{{.}}</dd>{{end}}
  <dt>Signed in with</dt><dd id="user-connector">{{.Profile.Connector}}</dd>
  </dl>
  <form method="post" action="{{.Prefix}}/sign-out"><button id="sign-out" type="submit">Sign out</button></form>
{{else}}
  <h1>Sign in</h1>
  {{range .Connectors}}
  <a class="button" id="sign-in-{{.ID}}" href="{{$.Prefix}}/sign-in/{{.ID}}{{with $.ReturnTo}}?returnTo={{.}}{{end}}">{{if .Logo}}<img src="{{safeURL .Logo}}" alt="">{{end}}Continue with {{index .Name "en"}}</a>
  {{else}}
  <p class="muted">No connector is configured.</p>
  {{end}}
{{end}}
</main>
</body>
</html>
`))

type pageData struct {
	// Prefix is the path of public_url, in front of every link.
	Prefix         string
	User           *userSession
	Connectors     []host.Instance
	Error          *errorBody
	ErrorTitle     string
	ConfirmSignOut bool
	// ReturnTo, when set, is where each sign-in link comes back to.
	ReturnTo string
	// SignOutAction and SignOutFields post the sign-out elsewhere than
	// /sign-out, with these fields (the OpenID Provider's logout).
	SignOutAction string
	SignOutFields map[string]string
	// FormTo is where a form's answer redirects to, when it is another site
	// (a client's registered post-logout URI, an app's redirect URI): an origin,
	// or a private-use scheme ("com.example.app:"). form-action must allow it,
	// since it covers the redirect too.
	FormTo string
	// ConfirmApp asks whether to go on signing in to an app whose identity
	// the OpenID Provider cannot be sure of.
	ConfirmApp *confirmApp
	// Profile is what the signed-in page shows of User.
	Profile profile
}

// confirmApp is the OpenID Provider's question before a code goes to an app
// it cannot be sure of (host/oidcprovider's needsConfirmation).
type confirmApp struct {
	Client string // the client id
	Target string // where the answer goes: the redirect URI's origin, or its scheme
	Action string
	Fields map[string]string
}

// profile is the signed-in user as the page shows them: the profile fields the
// connector gave, and the connector's display name.
type profile struct {
	Name, Email, Avatar string
	Connector           string
}

func profileOf(u *userSession, connectors []host.Instance) profile {
	p := profile{Connector: u.Connector}
	for _, c := range connectors {
		if c.ID == u.Connector && c.Name["en"] != "" {
			p.Connector = c.Name["en"]
		}
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	p.Name, p.Email, p.Avatar = deref(u.UserInfo.Name), deref(u.UserInfo.Email), deref(u.UserInfo.Avatar)
	return p
}

func (s *Server) pageData() pageData { return pageData{Prefix: s.prefix} }

func (s *Server) homePage(w http.ResponseWriter, r *http.Request) {
	data := s.pageData()
	data.Connectors = s.host.Instances()
	if sess, ok := s.currentUser(r); ok {
		data.User = &sess
		data.Profile = profileOf(&sess, data.Connectors)
	}
	s.renderPage(w, http.StatusOK, data)
}

// maxPageLogo bounds a logo the home page writes inline: the page answers
// anyone, and a plugin's megabyte logo made every GET / megabytes.
const maxPageLogo = 64 << 10

// withBoundedLogos leaves out logos longer than maxPageLogo, and a plugin's
// logo that is not a data: URL (the button keeps its text): every visitor's
// browser would fetch it from wherever the plugin's author chose, telling
// them who opens the page and when. A logo the operator configured shows as
// it is.
func withBoundedLogos(list []host.Instance) []host.Instance {
	for i := range list {
		if len(list[i].Logo) > maxPageLogo || !list[i].OperatorLogo && !strings.HasPrefix(list[i].Logo, "data:image/") {
			list[i].Logo = ""
		}
	}
	return list
}

// errorPage shows a failed browser step. The message is the connector error's,
// which never carries secrets, codes or tokens.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	step := "sign-in"
	// The OpenID Provider's RP-initiated logout and the browser's own sign-out.
	if strings.HasSuffix(r.URL.Path, "/end_session") || strings.HasSuffix(r.URL.Path, "/end_session/confirm") ||
		strings.HasSuffix(r.URL.Path, "/sign-out") {
		step = "sign-out"
	}
	s.log.Warn("browser "+step+" failed", "path", printable.Line(accesslog.Path(r)), "code", e.Code, "message", e.Message)
	data := s.pageData()
	data.Error = &errorBody{Code: e.Code, Message: e.Message}
	data.ErrorTitle = strings.ToUpper(step[:1]) + step[1:] + " failed"
	if e.Code == CodeCrossOrigin {
		data.ErrorTitle = "Request refused"
	}
	s.renderPage(w, statusFor(e.Code), data)
}

func (s *Server) renderPage(w http.ResponseWriter, status int, data pageData) {
	// Here, so that no page (the home page, the OpenID Provider's chooser)
	// shows a logo the bounds leave out.
	data.Connectors = withBoundedLogos(data.Connectors)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	formAction := "'self'"
	if data.FormTo != "" {
		formAction += " " + data.FormTo
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The page's URL (a pending request's id under /oidc/login) stays off the
	// avatar hosts its images load from.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = homeTemplate.Execute(w, data)
}

// safeURL lets data: logos through html/template (it blanks data URLs otherwise) and
// keeps everything that is not http(s) or an image data URL out.
func safeURL(u string) template.URL {
	switch {
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "data:image/"):
		return template.URL(u)
	default:
		return ""
	}
}
