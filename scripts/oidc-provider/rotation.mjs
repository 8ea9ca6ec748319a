// Key rotation for tests: with "keyRotation": true in the config, POST
// /test/rotate-keys replaces every signing key with new ones (new kids), as a
// provider rotating its keys would, so a client's cached JWK set goes stale.
// The provider is rebuilt over the same store: sessions, codes and grants stay.

export async function withKeyRotation(config, build, newKeys) {
  let current = await build(newKeys());
  if (!config.keyRotation) return current;
  let rotating = Promise.resolve();
  return (req, res) => {
    if (req.method === 'POST' && req.url === '/test/rotate-keys') {
      rotating = rotating.then(async () => {
        current = await build(newKeys());
      }).then(() => {
        res.setHeader('Content-Type', 'application/json');
        res.end('{"rotated":true}');
      }, (err) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err?.message ?? err) }));
      });
      return;
    }
    current(req, res);
  };
}
