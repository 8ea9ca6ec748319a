#!/usr/bin/env node
// A small, real OpenID Provider (built on the oidc-provider package) that
// listens on loopback. idplug's tests start it through internal/oidctest, and
// it can be run by hand for a local demo:
//
//   npm ci --prefix scripts/oidc-provider
//   node scripts/oidc-provider/server.mjs --config scripts/oidc-provider/example-config.json
//
// Once it is listening it prints exactly one JSON line to stdout,
// {"issuer":"http://127.0.0.1:PORT"}, and nothing else; everything else it has
// to say goes to stderr. See README.md in this folder for the configuration
// and the other files here.
//
// This file starts the server: it listens, builds the provider for the real
// issuer URL, prints the issuer line and stops on a signal or when its parent
// goes away.

// stdio.mjs comes first: it routes console output to stderr before anything
// else loads.
import { log, writeStdout } from './stdio.mjs';

import * as http from 'node:http';

import { loadConfig } from './config.mjs';
import { createProvider, signingKeys } from './provider.mjs';
import { withKeyRotation } from './rotation.mjs';
import { createMemoryAdapter } from './store.mjs';

async function main() {
  const config = await loadConfig();

  // Listen first so that port 0 can be used; the issuer needs the real port.
  let handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();
  const hostPart = config.host.includes(':') ? `[${config.host}]` : config.host;
  const issuer = `http://${hostPart}:${port}`;

  // The store outlives the provider: rotating keys builds a new one over it, so
  // sessions, codes and grants survive the rotation.
  config.adapter = createMemoryAdapter();
  handler = await withKeyRotation(config, async (jwks) => {
    config.jwks = jwks;
    return (await createProvider(issuer, config)).callback();
  }, signingKeys);
  let stopping = false;
  const shutdown = (reason) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${reason})`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  if (config.exitWithParent) {
    // Exit when the process that started this one goes away without
    // stopping it (a test binary that crashed or was killed).
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) shutdown('parent process exited');
    }, 1000).unref();
  }

  log(`listening on ${issuer} (interactions: ${config.interactions}, clients: ${config.clients.length}, accounts: ${[...config.accounts.keys()].join(', ')})`);
  writeStdout(`${JSON.stringify({ issuer })}\n`);
}

main().catch((err) => {
  log('fatal:', err?.message ?? err);
  process.exit(1);
});
