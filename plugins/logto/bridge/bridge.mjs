// The bridge between idplug's logto plugin (Go) and one of Logto's npm social
// connectors. The plugin starts it with the Node of this bundle:
//
//   node bridge.mjs --serve @logto/connector-github     requests on fd 3
//   node bridge.mjs --describe @logto/connector-github  metadata on stdout, then exit
//   node bridge.mjs --catalog connectors.json            every connector's metadata
//
// With --serve, fd 3 is one end of a Unix socket pair: newline-delimited JSON, each
// request {"id":n,"op":...} answered by {"id":n,"result":...} or {"id":n,"error":...},
// in any order, so calls run concurrently. stdout is left alone (the plugin's stdout
// carries go-plugin's handshake; the plugin gives Node another pipe). When the socket
// closes, the plugin is gone, and the bridge exits.
//
// Logto's core does some things outside its connectors; the bridge does them here: the
// state check, the redirect URI put into the callback data, the tokens handed back,
// and errors mapped to idplug's codes with nothing secret in them.
//
// This file reads the command line; the modules beside it each hold one concern
// (plugins/logto/README.md lists them).

// First, so that fetch and node:https are wrapped, and JSON.parse notes the numbers
// it cannot hold, before any connector is imported.
import './provider-http.mjs';
import './inexact-numbers.mjs';

import net from 'node:net';

import { writeCatalog } from './catalog.mjs';
import { loadConnector } from './connector.mjs';
import { keepServing } from './guards.mjs';
import { describe } from './metadata.mjs';
import { scrub } from './scrub.mjs';
import { serve } from './serve.mjs';

keepServing();

const [mode, pkg] = process.argv.slice(2);
if (mode === '--catalog') {
  await writeCatalog(pkg);
} else if (mode === '--describe') {
  const c = await loadConnector(pkg);
  // The plugin reads the last line; a connector may print at import.
  process.stdout.write(`\n${JSON.stringify(describe(c))}\n`);
} else if (mode === '--serve') {
  const sock = new net.Socket({ fd: 3, readable: true, writable: true });
  let c;
  try {
    c = await loadConnector(pkg);
  } catch (err) {
    sock.write(`${JSON.stringify({ id: 0, error: { code: 'invalid_metadata', message: scrub(err?.message ?? err, []) } })}\n`);
    sock.end();
    process.exitCode = 1;
  }
  if (c) serve(c, sock);
} else {
  process.stderr.write('usage: node bridge.mjs --serve|--describe @logto/connector-<name>\n');
  process.exit(2);
}
