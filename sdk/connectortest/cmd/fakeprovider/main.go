// Command fakeprovider runs the test kit's fake OAuth 2.0 provider by itself, for
// trying a connector by hand with idplug serve:
//
//	go run github.com/idplug/idplug/sdk/connectortest/cmd/fakeprovider -addr 127.0.0.1:9401
//
// It prints its endpoints, its client and its user, then approves every
// authorization request at once, as that user, until it is interrupted. Point a
// connector's configuration at the printed endpoints and sign in.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/idplug/idplug/sdk/connectortest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fakeprovider:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	prov, err := start(args)
	if err != nil {
		return err
	}
	defer prov.Close()

	// Ctrl-C is caught before anything is printed: whoever reads the endpoints
	// may stop the command at once, and it must still exit cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(out, "fake provider at %s\n", prov.URL)
	fmt.Fprintf(out, "authorizationEndpoint: %s\n", prov.AuthorizationEndpoint())
	fmt.Fprintf(out, "tokenEndpoint: %s\n", prov.TokenEndpoint())
	fmt.Fprintf(out, "userInfoEndpoint: %s\n", prov.UserInfoEndpoint())
	if prov.IssuesIDTokens() {
		fmt.Fprintf(out, "issuer: %s\n", prov.Issuer())
		fmt.Fprintf(out, "jwksUri: %s\n", prov.JWKSURI())
	}
	fmt.Fprintf(out, "clientId: %s\n", prov.ClientID())
	fmt.Fprintf(out, "clientSecret: %s\n", prov.ClientSecret())
	fmt.Fprintf(out, "user: %s\n", prov.Profile())
	fmt.Fprintln(out, "every authorization request is approved at once, as this user; Ctrl-C stops")

	<-ctx.Done()
	return nil
}

// start reads the flags and starts the provider they describe.
func start(args []string) (*connectortest.Provider, error) {
	fs := flag.NewFlagSet("fakeprovider", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (loopback: the provider approves every request)")
	clientID := fs.String("client-id", "connectortest-client", "the client the provider knows")
	clientSecret := fs.String("client-secret", "", "its secret (random when empty; \"-\" for a public client)")
	paths := fs.String("paths", "/authorize,/token,/userinfo", "the authorization, token and userinfo paths, comma-separated")
	profile := fs.String("profile", connectortest.DefaultProfile, "the userinfo answer (JSON)")
	form := fs.Bool("form-tokens", false, "answer token requests form-encoded, as GitHub does")
	clientAuth := fs.String("client-auth", "", "the only client authentication the token endpoint takes: client_secret_basic, client_secret_post or none (both that send the secret when empty)")
	unverified := fs.Bool("unverified-email", false, "serve the email as not verified: the field -email-verified-field names false (-email-verified-at-field: null), to try that the connector leaves it out")
	verified := fs.String("email-verified-field", "", "with -unverified-email: the profile field that says the email is verified, as a path (data.mail_ok); email_verified when empty")
	verifiedAt := fs.String("email-verified-at-field", "", "with -unverified-email: the profile field that says when the email was verified, null until then (GitLab's confirmed_at)")
	idTokens := fs.Bool("id-tokens", false, "be an OpenID Provider too: a discovery document, a key set, and ID tokens for the openid scope")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	p := strings.Split(*paths, ",")
	if len(p) != 3 {
		return nil, fmt.Errorf("-paths needs three comma-separated paths, got %q", *paths)
	}
	opts := []connectortest.ProviderOption{
		connectortest.WithAddr(*addr),
		connectortest.WithPaths(p[0], p[1], p[2]),
		connectortest.WithProfile(*profile),
	}
	switch *clientSecret {
	case "":
		opts = append(opts, connectortest.WithClient(*clientID, "connectortest-secret-"+randomHex()))
	case "-":
		opts = append(opts, connectortest.WithClient(*clientID, ""))
	default:
		opts = append(opts, connectortest.WithClient(*clientID, *clientSecret))
	}
	if *form {
		opts = append(opts, connectortest.WithTokenFormat(connectortest.TokenForm))
	}
	if *idTokens {
		opts = append(opts, connectortest.WithIDTokens())
	}
	switch m := connectortest.ClientAuthMethod(*clientAuth); m {
	case "":
	case connectortest.ClientSecretBasic, connectortest.ClientSecretPost:
		opts = append(opts, connectortest.WithClientAuth(m))
	case connectortest.ClientAuthNone:
		if *clientSecret != "-" {
			return nil, errors.New(`-client-auth none is a public client: give -client-secret - too`)
		}
		opts = append(opts, connectortest.WithClientAuth(m))
	default:
		return nil, fmt.Errorf("-client-auth %q: use client_secret_basic, client_secret_post or none", *clientAuth)
	}
	// The field matters only to an email served unverified: named alone, it
	// would change nothing, silently.
	switch {
	case *verified != "" && *verifiedAt != "":
		return nil, errors.New("-email-verified-field and -email-verified-at-field exclude each other")
	case (*verified != "" || *verifiedAt != "") && !*unverified:
		return nil, errors.New("-email-verified-field and -email-verified-at-field name the field -unverified-email sets: give -unverified-email too")
	case *verified != "":
		opts = append(opts, connectortest.WithEmailVerifiedField(*verified))
	case *verifiedAt != "":
		opts = append(opts, connectortest.WithEmailVerifiedAtField(*verifiedAt))
	}
	prov, err := connectortest.StartProvider(opts...)
	if err != nil {
		return nil, err
	}
	prov.ServeUnverifiedEmail(*unverified)
	return prov, nil
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
