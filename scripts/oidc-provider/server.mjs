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
// to say goes to stderr. See README.md in this folder for the configuration.

import { Console } from 'node:console';
import * as crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import { withKeyRotation } from './rotation.mjs';

// stdout carries the single issuer line. Route everything that would otherwise
// land there (the library prints some notices with console.info) to stderr.
const writeStdout = process.stdout.write.bind(process.stdout);
{
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const method of ['log', 'info', 'debug', 'trace', 'dir', 'dirxml', 'table', 'group', 'groupCollapsed']) {
    console[method] = toStderr[method].bind(toStderr);
  }
}

function log(...args) {
  console.error(...args);
}

// oidc-provider 9 warns on every start when the runtime is older than the
// Node.js LTS line it targets. The features used here work on Node.js 20
// (the test suite exercises them), so the warning is only noise.
const { Provider, errors } = await (async () => {
  const { warn } = console;
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
})();

// ---------------------------------------------------------------------------
// Configuration

const DEFAULT_ACCOUNT = {
  sub: 'alice',
  claims: {
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    email: 'alice@example.com',
    email_verified: true,
    picture: 'https://example.com/alice.png',
    phone_number: '+15555550100',
    phone_number_verified: true,
  },
};

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadConfig() {
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

  const clients = raw.clients ?? [];
  if (!Array.isArray(clients)) throw new Error('config.clients must be an array');
  for (const [i, client] of clients.entries()) {
    if (client === null || typeof client !== 'object' || typeof client.client_id !== 'string') {
      throw new Error(`config.clients[${i}] must be an object with a client_id`);
    }
  }

  let accounts = raw.accounts ?? [];
  if (!Array.isArray(accounts)) throw new Error('config.accounts must be an array');
  if (accounts.length === 0) accounts = [DEFAULT_ACCOUNT];
  const accountMap = new Map();
  for (const [i, account] of accounts.entries()) {
    if (account === null || typeof account !== 'object' || typeof account.sub !== 'string' || !account.sub) {
      throw new Error(`config.accounts[${i}] must be an object with a non-empty sub`);
    }
    if (accountMap.has(account.sub)) throw new Error(`config.accounts: duplicate sub ${JSON.stringify(account.sub)}`);
    accountMap.set(account.sub, { sub: account.sub, claims: { ...(account.claims ?? {}) } });
  }

  const interactions = raw.interactions ?? 'auto';
  if (interactions !== 'auto' && interactions !== 'form') {
    throw new Error('config.interactions must be "auto" or "form"');
  }

  return {
    host, port, clients, accounts: accountMap, interactions, exitWithParent: values['exit-with-parent'] ?? false,
    keyRotation: raw.keyRotation === true,
  };
}

// ---------------------------------------------------------------------------
// Storage: a plain in-memory adapter. Everything is lost when the process
// exits, which is what a test or demo provider wants.

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

function createMemoryAdapter() {
  const store = new Map(); // key -> { payload, expiresAt }
  const index = new Map(); // secondary key -> key
  const grants = new Map(); // grantId -> Set(key)

  const now = () => Date.now();
  const get = (key) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : undefined;
      store.set(key, { payload, expiresAt });
      if (this.model === 'Session' && payload.uid) index.set(`sessionUid:${payload.uid}`, key);
      if (payload.userCode) index.set(`userCode:${payload.userCode}`, key);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
        grants.get(payload.grantId).add(key);
      }
    }

    async find(id) {
      return get(this.key(id));
    }

    async findByUid(uid) {
      const key = index.get(`sessionUid:${uid}`);
      return key ? get(key) : undefined;
    }

    async findByUserCode(userCode) {
      const key = index.get(`userCode:${userCode}`);
      return key ? get(key) : undefined;
    }

    async consume(id) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    }
  };
}

// ---------------------------------------------------------------------------
// HTML

function escapeHTML(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
  *,*::before,*::after{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
    font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
    background:#f3f4f6;color:#111827}
  main{width:100%;max-width:360px;margin:24px;padding:32px;background:#fff;border-radius:12px;
    box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06)}
  h1{margin:0 0 4px;font-size:1.4rem;font-weight:600}
  p{margin:0 0 20px;color:#4b5563;font-size:.95rem;line-height:1.4}
  label{display:block;margin:0 0 6px;font-size:.85rem;font-weight:500;color:#374151}
  input{display:block;width:100%;height:40px;margin:0 0 16px;padding:0 12px;font-size:1rem;
    border:1px solid #d1d5db;border-radius:8px;background:#fff;color:inherit}
  input:focus{outline:2px solid #2563eb;outline-offset:1px;border-color:#2563eb}
  button{display:block;width:100%;height:40px;margin:8px 0 0;font-size:.95rem;font-weight:600;
    border:0;border-radius:8px;cursor:pointer;color:#fff;background:#2563eb}
  button:hover{background:#1d4ed8}
  button.secondary{color:#374151;background:#e5e7eb}
  button.secondary:hover{background:#d1d5db}
  .error{margin:0 0 16px;padding:10px 12px;border-radius:8px;background:#fef2f2;color:#991b1b;font-size:.9rem}
  dl{margin:0;font-size:.9rem}
  dt{font-weight:600;margin-top:8px}
  dd{margin:2px 0 0;color:#4b5563;word-break:break-word}
  .muted{margin-top:20px;font-size:.8rem;color:#6b7280;text-align:center}
`;

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHTML(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage({
  uid, clientName, username = '', error,
}) {
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return page('Sign in', `
<h1>Sign in</h1>
<p>to continue to <strong>${escapeHTML(clientName)}</strong></p>
${error ? `<div class="error" id="error" role="alert">${escapeHTML(error)}</div>` : ''}
<form id="login-form" method="post" action="${base}/login" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" value="${escapeHTML(username)}" required${username ? '' : ' autofocus'} autocapitalize="none" spellcheck="false">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required${username ? ' autofocus' : ''}>
  <button id="sign-in" type="submit">Sign in</button>
</form>
<form method="post" action="${base}/abort">
  <button id="cancel" class="secondary" type="submit">Cancel</button>
</form>
<div class="muted">Local test identity provider</div>`);
}

function errorPage(out) {
  const rows = Object.entries(out)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<dt>${escapeHTML(key)}</dt><dd>${escapeHTML(value)}</dd>`)
    .join('');
  return page('Error', `<h1>Something went wrong</h1><dl id="error">${rows}</dl>`);
}

// ---------------------------------------------------------------------------
// Interactions

const MAX_FORM_BYTES = 64 * 1024;

async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new errors.InvalidRequest('expected an application/x-www-form-urlencoded body');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function finish(provider, ctx, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

function interactionRoutes(provider, config) {
  const firstAccount = config.accounts.keys().next().value;
  const route = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/;

  return async function interactions(ctx, next) {
    const match = route.exec(ctx.path);
    if (!match) return next();
    const [, uid, action] = match;
    if ((action && ctx.method !== 'POST') || (!action && ctx.method !== 'GET')) return next();

    ctx.set('cache-control', 'no-store');
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
      const { prompt, params } = details;
      const client = await provider.Client.find(params.client_id);
      const clientName = client?.clientName ?? params.client_id;

      if (action === 'abort') {
        await finish(provider, ctx, {
          error: 'access_denied',
          error_description: 'End-User aborted interaction',
        });
        return undefined;
      }

      if (action === 'login') {
        if (prompt.name !== 'login') throw new errors.InvalidRequest('no login pending for this interaction');
        const form = await readForm(ctx.req);
        const username = (form.get('username') ?? '').trim();
        const password = form.get('password') ?? '';
        if (!config.accounts.has(username) || password === '') {
          ctx.type = 'html';
          ctx.body = loginPage({
            uid, clientName, username, error: 'Unknown username or password.',
          });
          return undefined;
        }
        log(`interaction ${uid}: signed in as ${username}`);
        await finish(provider, ctx, { login: { accountId: username } });
        return undefined;
      }

      switch (prompt.name) {
        case 'login': {
          const hint = params.login_hint;
          if (config.interactions === 'form') {
            ctx.type = 'html';
            ctx.body = loginPage({ uid, clientName, username: hint ?? '' });
            return undefined;
          }
          if (hint !== undefined && !config.accounts.has(hint)) {
            log(`interaction ${uid}: unknown login_hint ${JSON.stringify(hint)}`);
            await finish(provider, ctx, {
              error: 'access_denied',
              error_description: 'unknown login_hint',
            });
            return undefined;
          }
          const accountId = hint ?? firstAccount;
          log(`interaction ${uid}: signed in as ${accountId}`);
          await finish(provider, ctx, { login: { accountId } });
          return undefined;
        }
        case 'consent': {
          const grantId = await grantConsent(provider, details);
          await finish(provider, ctx, { consent: { grantId } });
          return undefined;
        }
        default:
          throw new errors.InvalidRequest(`unsupported prompt ${prompt.name}`);
      }
    } catch (err) {
      const status = err.statusCode ?? err.status ?? 500;
      if (status >= 500) log('interaction error:', err);
      ctx.status = status;
      ctx.type = 'html';
      ctx.body = errorPage({
        error: err.error ?? 'server_error',
        error_description: err.error_description ?? (status >= 500 ? 'internal error' : err.message),
      });
      return undefined;
    }
  };
}

// ---------------------------------------------------------------------------
// Provider

function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = crypto.generateKeyPairSync('ed25519');
  return {
    keys: [rsa, ec, ed].map(({ privateKey }) => privateKey.export({ format: 'jwk' })),
  };
}

function providerConfiguration(config) {
  const ONE_HOUR = 60 * 60;
  const FOURTEEN_DAYS = 14 * 24 * ONE_HOUR;

  return {
    adapter: config.adapter,
    clients: config.clients,
    jwks: config.jwks,

    async findAccount(_ctx, sub) {
      const account = config.accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...account.claims, sub };
        },
      };
    },

    claims: {
      openid: ['sub'],
      profile: [
        'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
        'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
      ],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
      address: ['address'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'address'],

    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
    },

    // Authorization code flow only. PKCE (S256 is the only method
    // oidc-provider 9 supports) is required for public clients and optional
    // for confidential ones.
    responseTypes: ['code'],
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },

    // A refresh token is issued whenever the client is allowed to use the
    // refresh_token grant; offline_access is not needed.
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },

    cookies: {
      keys: ['idplug-oidc-provider-cookie-key-1'],
    },

    features: {
      devInteractions: { enabled: false },
      // Access tokens stay opaque and are meant for the userinfo endpoint.
      resourceIndicators: { enabled: false },
      revocation: {
        enabled: true,
        async allowedPolicy(_ctx, client, token) {
          return token.clientId === client.clientId;
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = page('Sign out', `
<h1>Sign out</h1>
<p>Do you want to sign out of ${escapeHTML(ctx.host)}?</p>
${form}
<button id="sign-out" type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Sign out</button>
<button id="stay-signed-in" class="secondary" type="submit" form="op.logoutForm">Stay signed in</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
        },
      },
    },

    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },

    clientBasedCORS: () => true,

    ttl: {
      AccessToken: ONE_HOUR,
      AuthorizationCode: 60,
      IdToken: ONE_HOUR,
      RefreshToken: FOURTEEN_DAYS,
      Interaction: ONE_HOUR,
      Session: FOURTEEN_DAYS,
      Grant: FOURTEEN_DAYS,
    },
  };
}

const LOGGED_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'discovery.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'revocation.error',
  'userinfo.error',
];

function describeError(err) {
  let text = err.error ? `${err.error}: ${err.error_description ?? ''}` : String(err.message ?? err);
  if (err.error_detail) text += ` (${err.error_detail})`;
  if (err.cause?.message) text += ` [cause: ${err.cause.message}]`;
  return text;
}

async function createProvider(issuer, config) {
  const provider = new Provider(issuer, providerConfiguration(config));
  // oidc-provider checks static client metadata on first use; check it now so
  // that a bad configuration fails the start instead of a later request.
  for (const { client_id: clientId } of config.clients) {
    try {
      await provider.Client.find(clientId);
    } catch (err) {
      throw new Error(`client ${JSON.stringify(clientId)}: ${err.error_description ?? err.message}`);
    }
  }
  provider.use(async (ctx, next) => {
    const started = Date.now();
    try {
      await next();
    } finally {
      log(`${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - started}ms`);
    }
  });
  provider.use(interactionRoutes(provider, config));
  for (const event of LOGGED_EVENTS) {
    provider.on(event, (_ctx, err) => log(`${event} ${describeError(err)}`));
  }
  provider.on('server_error', (_ctx, err) => log('server_error', err));
  provider.on('error', (err) => {
    if (err.status >= 500 || !err.expose) log('error', err);
  });

  return provider;
}

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
