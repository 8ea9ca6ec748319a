package config_test

import (
	"fmt"
	"os"

	"github.com/idplug/idplug/host/config"
)

func ExampleParse() {
	data := []byte(`
listen: 127.0.0.1:8080
plugin_dir: ./bin/plugins
session_keys: ["${SESSION_KEY}"]
connectors:
  - id: acme
    plugin: oauth2
    name: {en: Acme}
    config:
      clientId: idplug-demo
      clientSecret: ${ACME_SECRET:-dev-secret}
      scopes: [openid, email]
`)
	env := func(name string) (string, bool) {
		if name == "SESSION_KEY" {
			return "an example key that is long enough, 32+ bytes", true
		}
		return "", false
	}
	cfg, err := config.Parse(data, env, "/srv/idplug")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.PublicURL)
	fmt.Println(cfg.PluginDir)
	c := cfg.Instances[0]
	fmt.Println(c.ID, c.EffectiveTarget(), string(c.Config))
	// Output:
	// http://127.0.0.1:8080
	// /srv/idplug/bin/plugins
	// acme acme {"clientId":"idplug-demo","clientSecret":"dev-secret","scopes":["openid","email"]}
}

func ExampleError() {
	data := []byte(`
listen: 0.0.0.0:8080
public_url: https://id.example.com
plugin_dir: ./bin/plugins
session_keys: ["${SESSION_KEY}", too-short]
connectors:
  - id: Acme
    plugin: oauth2
    secret: x
`)
	_, err := config.Parse(data, func(string) (string, bool) { return "", false }, "/srv/idplug")
	fmt.Fprintln(os.Stdout, err)
	// Output:
	// idplug.yaml: api_keys: is required when listen (0.0.0.0:8080) is not a loopback address
	// idplug.yaml:5: session_keys[0]: environment variable SESSION_KEY is not set
	// idplug.yaml:5: session_keys[1]: is 9 bytes, needs at least 32
	// idplug.yaml:7: connectors[0].id: "Acme" must match [a-z0-9][a-z0-9-]*
	// idplug.yaml:9: connectors[0].secret: unknown key (known keys: id, plugin, target, name, logo, logoDark, config, mapping)
}
