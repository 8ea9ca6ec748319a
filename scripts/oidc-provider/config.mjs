// The command line and the JSON configuration (from --config PATH, or stdin
// with --config -), checked so that a bad one fails the start with an error
// that names the field.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { parseAccounts } from './accounts.mjs';
import { parseClients } from './clients.mjs';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export async function loadConfig() {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      'exit-with-parent': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write('usage: server.mjs [--config PATH|-] [--exit-with-parent]\n');
    process.exit(0);
  }
  let text = '{}';
  if (values.config === '-') {
    text = await readStdin();
  } else if (values.config) {
    text = await readFile(values.config, 'utf8');
  }
  let raw;
  try {
    raw = JSON.parse(text || '{}');
  } catch (err) {
    throw new Error(`config is not valid JSON: ${err.message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('config must be a JSON object');
  }

  const host = raw.host ?? '127.0.0.1';
  const port = raw.port ?? 0;
  if (typeof host !== 'string' || !host) throw new Error('config.host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('config.port must be an integer between 0 and 65535');

  const clients = parseClients(raw.clients);
  const accounts = parseAccounts(raw.accounts);

  const interactions = raw.interactions ?? 'auto';
  if (interactions !== 'auto' && interactions !== 'form') {
    throw new Error('config.interactions must be "auto" or "form"');
  }

  return {
    host, port, clients, accounts, interactions, exitWithParent: values['exit-with-parent'] ?? false,
    keyRotation: raw.keyRotation === true,
  };
}
