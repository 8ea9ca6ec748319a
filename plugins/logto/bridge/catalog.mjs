// --catalog: the metadata of every social connector this bundle's package.json names,
// written to connectors.json when the bundle is built, so the plugin serves metadata
// without starting Node.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { bundleDir, loadConnector } from './connector.mjs';
import { describe } from './metadata.mjs';

export async function writeCatalog(file) {
  const { dependencies = {} } = JSON.parse(readFileSync(path.join(bundleDir, 'package.json'), 'utf8'));
  const connectors = {};
  for (const name of Object.keys(dependencies).sort()) {
    const m = /^@logto\/connector-([a-z0-9-]+)$/.exec(name);
    if (!m || name === '@logto/connector-kit') continue;
    const c = await loadConnector(name);
    const d = describe(c);
    if (d.connectorType !== 'Social') {
      process.stderr.write(`bridge: ${name} is a ${d.connectorType || 'unknown'} connector, not a social one: left out\n`);
      continue;
    }
    const { connectorType, package: p, version, tokens, refresh, ...metadata } = d;
    connectors[m[1]] = { package: p, version, tokens, refresh, metadata };
  }
  writeFileSync(file, `${JSON.stringify({ node: process.version, connectors }, null, 2)}\n`);
}
