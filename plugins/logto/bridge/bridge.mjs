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
import { AsyncLocalStorage } from 'node:async_hooks';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bundleDir = path.dirname(fileURLToPath(import.meta.url));

// Caps on what crosses the socket, so a runaway peer cannot exhaust memory.
const maxLine = 4 << 20;
const maxPeek = 64 << 10;

// ---- loading a connector (as Logto's CLI loader does) ----

async function loadConnector(pkg) {
  if (!/^@logto\/connector-[a-z0-9-]+$/.test(pkg)) {
    throw new Error(`not a Logto connector package name: ${pkg}`);
  }
  // Packages are looked up in this bundle only.
  const dir = path.join(bundleDir, 'node_modules', ...pkg.split('/'));
  const pkgJson = path.join(dir, 'package.json');
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8'));
  const mod = await import(pkg);
  const create = typeof mod.default === 'function' ? mod.default : mod.default?.default;
  if (typeof create !== 'function') {
    throw new Error(`${pkg} has no default export that creates a connector`);
  }
  // Logto probes with a getConfig that throws: metadata must not need a config.
  const probe = await create({
    getConfig: async () => {
      throw new Error('no configuration while reading metadata');
    },
  });
  return { pkg, dir, version, create, probe };
}

const mimeTypes = { '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif' };

// asset turns a connector's "./logo.svg" into a data URL; a URL stays as it is.
function logoURL(dir, ref) {
  if (!ref) return '';
  if (/^(https?:|data:)/.test(ref)) return ref;
  const file = path.resolve(dir, ref);
  if (!file.startsWith(dir + path.sep) || !existsSync(file)) return '';
  const type = mimeTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return `data:${type};base64,${readFileSync(file).toString('base64')}`;
}

function textFile(dir, ref) {
  if (!ref) return '';
  const file = path.resolve(dir, ref);
  if (!file.startsWith(dir + path.sep) || !existsSync(file)) return '';
  return readFileSync(file, 'utf8');
}

// Keys whose values are secrets: masked in forms, never repeated in messages.
const secretKey = /(secret|password|passphrase|private.?key|api.?key|access.?key|access.?token|signing.?key|credential)/i;

// ...but not the names of algorithms, methods or ids that mention a secret.
const notSecretKey = /(algorithm|method|type|id|endpoint|uri|url)$/i;

const formTypes = new Set(['Text', 'MultilineText', 'Number', 'Switch', 'Select', 'MultiSelect', 'Json']);

function formItem(item) {
  const out = { key: String(item.key), label: String(item.label ?? item.key), type: formTypes.has(item.type) ? item.type : 'Text' };
  if (item.required) out.required = true;
  if (item.placeholder) out.placeholder = String(item.placeholder);
  if (item.defaultValue !== undefined) out.defaultValue = item.defaultValue;
  if (item.description) out.description = String(item.description);
  if (item.tooltip) out.tooltip = String(item.tooltip);
  if (item.isConfidential || (secretKey.test(item.key) && !notSecretKey.test(item.key))) out.isConfidential = true;
  if (Array.isArray(item.selectItems)) out.selectItems = item.selectItems.map((s) => ({ value: String(s.value), title: String(s.title ?? s.value) }));
  if (Array.isArray(item.showConditions)) out.showConditions = item.showConditions.map((c) => ({ targetKey: String(c.targetKey), expectValue: c.expectValue }));
  return out;
}

// The form item the bridge adds when the connector can hand tokens back (Logto keeps
// this switch on the connector record, outside the connector's config).
const storeTokensItem = {
  key: 'storeTokens',
  label: 'Store tokens',
  type: 'Switch',
  defaultValue: false,
  description: "Hand the provider's tokens back with the profile, for the token vault.",
};

function canStoreTokens(c) {
  return Boolean(c.probe.metadata?.isTokenStorageSupported && typeof c.probe.getTokenResponseAndUserInfo === 'function');
}

// describe returns the metadata in idplug's shape (sdk.Metadata's JSON).
function describe(c) {
  const m = c.probe.metadata ?? {};
  const items = (m.formItems ?? []).map(formItem);
  if (canStoreTokens(c) && !items.some((i) => i.key === storeTokensItem.key)) items.push(storeTokensItem);
  const platform = ['Universal', 'Web', 'Native'].includes(m.platform) ? m.platform : '';
  return {
    id: String(m.id ?? ''),
    target: String(m.target ?? ''),
    platform,
    name: m.name ?? {},
    description: m.description ?? {},
    logo: logoURL(c.dir, m.logo),
    logoDark: logoURL(c.dir, m.logoDark),
    readme: textFile(c.dir, m.readme),
    isStandard: Boolean(m.isStandard),
    formItems: items,
    configTemplate: textFile(c.dir, m.configTemplate),
    // Not part of sdk.Metadata: what the plugin and the docs want to know.
    connectorType: c.probe.type ?? '',
    package: c.pkg,
    version: c.version,
    tokens: canStoreTokens(c),
    refresh: typeof c.probe.getAccessTokenByRefreshToken === 'function',
  };
}

// ---- configuration ----

// guardKeys lists the keys a zod object guard (or union of them) knows; null when it
// cannot tell.
function guardKeys(guard) {
  let g = guard;
  for (let i = 0; g && i < 8; i++) {
    const def = g._def ?? {};
    if (typeof g.shape === 'object' && g.shape) return Object.keys(g.shape);
    if (def.typeName === 'ZodObject' && typeof def.shape === 'function') return Object.keys(def.shape());
    if (Array.isArray(def.options)) {
      const keys = new Set();
      for (const o of def.options) {
        const k = guardKeys(o);
        if (!k) return null;
        k.forEach((x) => keys.add(x));
      }
      return [...keys];
    }
    g = def.schema ?? def.innerType ?? def.in ?? null;
  }
  return null;
}

function describeIssue(issue) {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'is required' : `must be ${article(issue.expected)}, not ${article(issue.received)}`;
    case 'invalid_literal':
      return `must be ${JSON.stringify(issue.expected)}`;
    case 'invalid_enum_value':
      return `must be one of ${(issue.options ?? []).map(String).join(', ')}`;
    case 'invalid_string':
      return `is not a valid ${typeof issue.validation === 'string' ? issue.validation : 'value'}`;
    case 'too_small':
      return `is too short or too small (at least ${issue.minimum})`;
    case 'too_big':
      return `is too long or too large (at most ${issue.maximum})`;
    case 'unrecognized_keys':
      return 'has unknown keys';
    case 'invalid_union':
    case 'invalid_union_discriminator':
      return 'does not match any accepted shape';
    default:
      return 'is not valid';
  }
}

function article(t) {
  return /^[aeiou]/.test(String(t)) ? `an ${t}` : `a ${t}`;
}

// validate checks config with the connector's own guard plus an unknown-key check. It
// returns the config the connector gets (without the bridge's storeTokens) and whether
// to hand tokens back.
function validate(c, config, formKeys) {
  const fields = [];
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw bridgeError('invalid_config', 'the configuration must be a JSON object', { fields: [{ field: '', message: 'must be a JSON object' }] });
  }
  const { storeTokens, ...rest } = config;
  if (storeTokens !== undefined && typeof storeTokens !== 'boolean') fields.push({ field: 'storeTokens', message: 'must be true or false' });
  if (storeTokens === true && !canStoreTokens(c)) fields.push({ field: 'storeTokens', message: 'this connector cannot hand tokens back' });
  const known = new Set([...(guardKeys(c.probe.configGuard) ?? Object.keys(rest)), ...formKeys]);
  for (const key of Object.keys(rest).sort()) {
    if (!known.has(key)) {
      const hint = [...known].find((k) => k.toLowerCase() === key.toLowerCase());
      fields.push({ field: key, message: hint ? `unknown field; did you mean ${hint}?` : 'unknown field' });
    }
  }
  const guard = c.probe.configGuard;
  if (guard && typeof guard.safeParse === 'function') {
    const r = guard.safeParse(rest);
    if (!r.success) {
      for (const issue of r.error.issues) {
        fields.push({ field: issue.path.map(String).join('.') || '(config)', message: describeIssue(issue) });
      }
    }
  }
  if (fields.length > 0) {
    throw bridgeError('invalid_config', fields.map((f) => `${f.field}: ${f.message}`).join('; '), { fields });
  }
  return { config: rest, storeTokens: storeTokens === true };
}

// ---- instances ----

// One connector object per instance and configuration version, as Logto makes one per
// connector record.
const instances = new Map();

async function instance(c, formKeys, req) {
  const have = instances.get(req.instance);
  if (have && have.version === req.version) return have.ready;
  // Calls that arrive together for a new version share one connector object.
  const entry = { version: req.version };
  entry.ready = (async () => {
    const { config, storeTokens } = validate(c, req.config, formKeys);
    const connector = await c.create({ getConfig: async () => config });
    return { connector, config, storeTokens };
  })();
  instances.set(req.instance, entry);
  entry.ready.catch(() => {
    if (instances.get(req.instance) === entry) instances.delete(req.instance);
  });
  return entry.ready;
}

// release drops the connector objects of an instance whose configuration the host let
// go: the instance's own, and the one refreshes made with that configuration. A newer
// version of the same instance stays. The answer names what went, for the plugin's log
// (the bridge's stderr does not reach the host's).
function release(req) {
  const dropped = [];
  const have = instances.get(req.instance);
  if (have && have.version === req.version) {
    instances.delete(req.instance);
    dropped.push(req.instance);
  }
  const refreshKey = `refresh:${req.version}`;
  const refresher = instances.get(refreshKey);
  if (refresher && refresher.version === req.version) {
    instances.delete(refreshKey);
    dropped.push('refresh');
  }
  if (dropped.length > 0) process.stderr.write(`bridge: released instance ${String(req.instance).slice(0, 64)}\n`);
  return { dropped };
}

// ---- HTTP: what each call's requests answered, and the test-only host map ----

const calls = new AsyncLocalStorage();
let testHosts = null; // {"api.github.com": "http://127.0.0.1:port"}: set only by the plugin's test build

function record(status, oauthError) {
  const store = calls.getStore();
  if (store) store.responses.push({ status, oauthError });
}

const oauthErrorRE = /^[A-Za-z0-9_.-]{1,64}$/;

function oauthErrorOf(text) {
  try {
    const v = JSON.parse(text);
    const e = v?.error ?? v?.errcode;
    if (typeof e === 'string' && oauthErrorRE.test(e)) return e;
    if (typeof e === 'number') return String(e);
  } catch {
    const m = /(?:^|&)error=([A-Za-z0-9_.-]{1,64})/.exec(text);
    if (m) return m[1];
  }
  return '';
}

function mapURL(u) {
  if (!testHosts) return null;
  const url = new URL(u);
  const to = url.protocol === 'https:' ? testHosts[url.host] : undefined;
  if (!to) return null;
  const t = new URL(to);
  url.protocol = t.protocol;
  url.host = t.host;
  return url;
}

// Every provider call gets a deadline and a cap on its body, whatever the connector
// asked for: a provider that hangs or streams without end cannot hold a call forever
// or fill Node's memory.
const requestTimeout = 30_000;
const maxBody = 4 << 20;

// Statuses whose Response must have no body.
const nullBodyStatus = new Set([101, 103, 204, 205, 304]);

// buffered reads res's whole body, failing once it passes maxBody bytes, and returns
// the bytes with a fresh Response over them: the connector reads that as it would
// have read the provider's, and the bridge looks for the provider's OAuth error in
// the same bytes. A capping stream piped through, plus a clone of the body to peek
// into, cost a quarter of a millisecond of Node per request.
async function buffered(res) {
  const chunks = [];
  let n = 0;
  if (res.body) {
    if (Number(res.headers.get('content-length')) > maxBody) {
      res.body.cancel().catch(() => {});
      throw new Error(`the provider's answer is larger than ${maxBody} bytes`);
    }
    for await (const chunk of res.body) {
      n += chunk.byteLength;
      if (n > maxBody) throw new Error(`the provider's answer is larger than ${maxBody} bytes`);
      chunks.push(chunk);
    }
  }
  const bytes = Buffer.concat(chunks, n);
  const body = nullBodyStatus.has(res.status) ? null : bytes;
  return { res: new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers }), bytes };
}

const realFetch = globalThis.fetch;
globalThis.fetch = async function fetchRecorded(input, init) {
  let target = input;
  const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input?.url;
  const mapped = href ? mapURL(href) : null;
  if (mapped) {
    target = typeof input === 'string' || input instanceof URL ? mapped.href : new Request(mapped.href, input);
  }
  // The deadline covers reading the body too, and ends with it: a timer left to run
  // its 30 seconds after every request would pile up by the thousand under load.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException('the provider did not answer in time', 'TimeoutError')), requestTimeout);
  // The connector's own signal (ky sets one) ends the request too. Linked by hand:
  // AbortSignal.any costs twenty times as much in Node 22.
  const given = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  const follow = () => deadline.abort(given.reason);
  if (given?.aborted) follow();
  else given?.addEventListener('abort', follow, { once: true });
  let res, bytes;
  try {
    ({ res, bytes } = await buffered(await realFetch(target, { ...init, signal: deadline.signal })));
  } finally {
    clearTimeout(timer);
    given?.removeEventListener('abort', follow);
  }
  if (calls.getStore()) {
    let oauthError = '';
    const type = res.headers.get('content-type') ?? '';
    if (res.status >= 400 || /json|form/.test(type)) {
      oauthError = oauthErrorOf(bytes.toString('utf8', 0, Math.min(bytes.length, maxPeek)));
    }
    record(res.status, oauthError);
  }
  return res;
};

// got (and jose's key fetch) use node:https; the status of each answer is recorded,
// and in the test build a mapped host is sent to the stub over plain HTTP.
const realHttpsRequest = https.request;
function httpsRecorded(...args) {
  let req;
  const first = args[0];
  const href = typeof first === 'string' ? first : first instanceof URL ? first.href : null;
  const mapped = href ? mapURL(href) : null;
  if (mapped) {
    const opts = typeof args[1] === 'object' && args[1] !== null ? { ...args[1] } : {};
    delete opts.agent;
    delete opts.host;
    delete opts.hostname;
    delete opts.port;
    delete opts.protocol;
    const cb = args.find((a) => typeof a === 'function');
    req = http.request(mapped, opts, cb);
  } else {
    req = realHttpsRequest.apply(https, args);
  }
  req.setTimeout(requestTimeout, () => req.destroy(Object.assign(new Error('the provider did not answer in time'), { code: 'ETIMEDOUT' })));
  const store = calls.getStore();
  req.on('response', (res) => {
    if (store) store.responses.push({ status: res.statusCode, oauthError: '' });
    const length = Number(res.headers['content-length']);
    if (length > maxBody) req.destroy(new Error(`the provider's answer is larger than ${maxBody} bytes`));
  });
  return req;
}
https.request = httpsRecorded;
https.get = function httpsGet(...args) {
  const req = httpsRecorded(...args);
  req.end();
  return req;
};

// ---- errors ----

const logtoCodes = new Set([
  'general', 'invalid_metadata', 'invalid_config', 'invalid_request_parameters', 'insufficient_request_parameters',
  'invalid_response', 'not_implemented', 'rate_limit_exceeded', 'social_auth_code_invalid',
  'social_invalid_access_token', 'social_invalid_id_token', 'authorization_failed',
]);

class BridgeError extends Error {
  constructor(code, message, details) {
    super(message);
    this.bridgeCode = code;
    this.details = details;
  }
}

function bridgeError(code, message, details) {
  return new BridgeError(code, message, details);
}

const codeInvalid = new Set(['invalid_grant', 'bad_verification_code', '40029', '40163', '40030', 'invalid_code']);
const clientRefused = new Set(['invalid_client', 'unauthorized_client']);
const tokenInvalid = new Set(['invalid_token', '40001', '40014', '42001']);

function httpStatusOf(err) {
  const r = err?.response;
  const s = r?.status ?? r?.statusCode;
  return Number.isInteger(s) ? s : 0;
}

function isTimeout(err) {
  for (let e = err, i = 0; e && i < 4; e = e.cause, i++) {
    if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT') return true;
  }
  return false;
}

function isNetwork(err) {
  for (let e = err, i = 0; e && i < 4; e = e.cause, i++) {
    if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET'].includes(e.code)) return true;
    if (e.name === 'TypeError' && e.message === 'fetch failed') return true;
  }
  return false;
}

// classify maps a connector's failure to idplug's code. Logto's own codes carry over;
// where a connector flattened the provider's answer to "general", the answer this call
// saw (its status, its OAuth error) tells what happened.
function classify(err, responses) {
  const connectorCode = typeof err?.code === 'string' && logtoCodes.has(err.code) && String(err.message).startsWith('ConnectorError') ? err.code : '';
  const failed = [...responses].reverse().find((r) => r.status >= 400 || r.oauthError);
  const status = httpStatusOf(err) || failed?.status || 0;
  const oauthError = failed?.oauthError || oauthErrorOfError(err);
  const details = {};
  if (status) details.status = status;
  if (oauthError) details.error = oauthError;
  const sawOutage = responses.some((r) => r.status >= 500);
  // A code that says what happened is kept; the ones a connector uses for "something
  // went wrong" are refined by what the provider answered.
  if (connectorCode && !['general', 'invalid_response', 'social_invalid_id_token'].includes(connectorCode)) return { code: connectorCode, details };
  if (isTimeout(err)) return { code: 'provider_timeout', details };
  if (status >= 500 || sawOutage || isNetwork(err)) return { code: 'provider_unavailable', details };
  if (status === 429) return { code: 'rate_limit_exceeded', details };
  if (codeInvalid.has(oauthError)) return { code: 'social_auth_code_invalid', details };
  // The client's own credentials refused: a configuration problem, not the user's token.
  if (clientRefused.has(oauthError)) return { code: connectorCode || 'general', details };
  if (tokenInvalid.has(oauthError) || status === 401) return { code: 'social_invalid_access_token', details };
  if (connectorCode) return { code: connectorCode, details };
  if (status >= 400) return { code: 'invalid_response', details };
  return { code: 'general', details };
}

// oauthErrorOfError finds the provider's OAuth error in what a connector threw: got's
// HTTPError keeps the body; a connector that caught it keeps JSON.stringify(body).
function oauthErrorOfError(err) {
  const body = err?.response?.body;
  if (typeof body === 'string') return oauthErrorOf(body.slice(0, maxPeek));
  let v = err?.data?.message ?? err?.data;
  for (let i = 0; i < 3 && v; i++) {
    if (typeof v === 'object') {
      const e = v.error ?? v.errcode;
      return typeof e === 'string' && oauthErrorRE.test(e) ? e : typeof e === 'number' ? String(e) : '';
    }
    if (typeof v !== 'string') return '';
    try {
      v = JSON.parse(v.slice(0, maxPeek));
    } catch {
      return '';
    }
  }
  return '';
}

const fixedMessages = {
  provider_unavailable: 'the provider could not be reached or failed',
  provider_timeout: 'the provider did not answer in time',
  rate_limit_exceeded: 'the provider refused the request: too many requests',
  social_auth_code_invalid: 'the provider refused the authorization code',
  social_invalid_access_token: 'the provider refused the access token',
  social_invalid_id_token: 'the ID token is not valid',
  authorization_failed: 'the user or the provider denied the authorization',
  invalid_response: 'the provider answered something the connector cannot use',
};

// scrub drops query strings of URLs, and every value the call carried that may be a
// secret (configuration, callback, session), from text.
function scrub(text, secrets) {
  let s = String(text ?? '');
  s = s.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s"'?#<>]*)[?#][^\s"'<>]*/gi, '$1');
  for (const v of secrets) {
    if (v.length >= 3) s = s.split(v).join('[redacted]');
  }
  s = s.replace(/[?]/g, '');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function secretsOf(...objs) {
  const out = new Set();
  const walk = (v, depth) => {
    if (depth > 4 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.length >= 3) {
        out.add(v);
        out.add(encodeURIComponent(v));
        out.add(JSON.stringify(v).slice(1, -1));
      }
    } else if (typeof v === 'object') {
      for (const x of Object.values(v)) walk(x, depth + 1);
    }
  };
  objs.forEach((o) => walk(o, 0));
  // Longest first, so a value containing another is removed whole.
  return [...out].sort((a, b) => b.length - a.length);
}

function errorAnswer(err, responses, secrets) {
  if (err instanceof BridgeError) {
    return { code: err.bridgeCode, message: scrub(err.message, secrets), details: scrubDetails(err.details, secrets) };
  }
  const { code, details } = classify(err, responses);
  let message = fixedMessages[code];
  if (!message) {
    const data = err?.data;
    const text = typeof data?.message === 'string' ? data.message : err?.message ?? String(err);
    message = scrub(text.replace(/^ConnectorError: /, ''), secrets) || code;
  }
  if (typeof err?.code === 'string' && logtoCodes.has(err.code) && err.code !== code) details.connectorCode = err.code;
  // A guard that refused the provider's answer says where, never what (paths and zod codes only).
  const issues = err?.data?.issues ?? err?.issues;
  if (Array.isArray(issues)) {
    details.issues = issues.slice(0, 10).map((i) => `${(i.path ?? []).map((x) => String(x).slice(0, 40)).join('.') || '(root)'}: ${describeIssue(i)}`);
  }
  if (details.issues) message += `: ${details.issues.join('; ')}`;
  return { code, message, details };
}

function scrubDetails(details, secrets) {
  if (!details) return undefined;
  return JSON.parse(JSON.stringify(details), (k, v) => (typeof v === 'string' ? scrub(v, secrets) : v));
}

// ---- the flow ----

async function authorize(c, formKeys, req) {
  const inst = await instance(c, formKeys, req);
  const p = req.payload ?? {};
  let stored = {};
  const payload = {
    state: String(p.state ?? ''),
    redirectUri: String(p.redirectUri ?? ''),
    connectorId: String(req.instance),
    connectorFactoryId: c.probe.metadata?.id ?? '',
    jti: String(p.jti ?? ''),
    headers: {},
  };
  if (typeof p.scope === 'string' && p.scope !== '') payload.scope = p.scope;
  const redirectTo = await inst.connector.getAuthorizationUri(payload, async (s) => {
    stored = { ...stored, ...(s ?? {}) };
  });
  return {
    redirectTo: String(redirectTo),
    session: { state: payload.state, redirectUri: payload.redirectUri, logto: JSON.stringify(stored) },
  };
}

// sameString compares in time that does not depend on where the strings differ.
function sameString(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const stringMap = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});

async function userInfo(c, formKeys, req) {
  const inst = await instance(c, formKeys, req);
  const session = stringMap(req.session);
  const data = { ...stringMap(req.data) };
  if (!session.state || !session.redirectUri) {
    throw bridgeError('insufficient_request_parameters', 'the session has no state or redirect URI: start the sign-in again');
  }
  if (!sameString(data.state, session.state)) {
    throw bridgeError('invalid_request_parameters', data.state ? 'the callback state does not match the session' : 'the callback has no state');
  }
  if (data.error) {
    const denied = data.error === 'access_denied';
    const details = oauthErrorRE.test(data.error) ? { error: data.error } : {};
    throw bridgeError(denied ? 'authorization_failed' : 'general', denied ? 'the user denied the authorization' : 'the provider answered the authorization with an error', details);
  }
  if (!data.code && !data.id_token) {
    throw bridgeError('insufficient_request_parameters', 'the callback has no code');
  }
  // Logto's sign-in page puts the redirect URI into the callback data; Google, Discord,
  // Facebook and X send it with the code.
  data.redirectUri = session.redirectUri;
  let stored = {};
  try {
    stored = JSON.parse(session.logto ?? '{}') ?? {};
  } catch {
    throw bridgeError('invalid_request_parameters', 'the session is damaged: start the sign-in again');
  }
  const getSession = async () => ({ ...stored, redirectUri: session.redirectUri });
  if (inst.storeTokens) {
    const { tokenResponse, userInfo: profile } = await inst.connector.getTokenResponseAndUserInfo(data, getSession);
    return { userInfo: profileOf(profile), tokens: tokensOf(tokenResponse) };
  }
  return { userInfo: profileOf(await inst.connector.getUserInfo(data, getSession)) };
}

function profileOf(p) {
  if (!p || (typeof p.id !== 'string' && typeof p.id !== 'number') || String(p.id) === '') {
    throw bridgeError('invalid_response', 'the connector returned a profile without an id');
  }
  const out = { id: String(p.id) };
  for (const k of ['name', 'avatar', 'email', 'phone']) {
    if (typeof p[k] === 'string') out[k] = p[k];
  }
  if (p.rawData !== undefined) out.rawData = p.rawData;
  return out;
}

function tokensOf(t) {
  if (!t || typeof t !== 'object') return undefined;
  const pick = (...keys) => keys.map((k) => t[k]).find((v) => typeof v === 'string' && v !== '');
  const out = { accessToken: pick('access_token', 'accessToken') ?? '' };
  const refreshToken = pick('refresh_token', 'refreshToken');
  const idToken = pick('id_token', 'idToken');
  const tokenType = pick('token_type', 'tokenType');
  const scope = pick('scope');
  if (refreshToken) out.refreshToken = refreshToken;
  if (idToken) out.idToken = idToken;
  if (tokenType) out.tokenType = tokenType;
  if (scope) out.scope = scope;
  const expiresIn = Number(t.expires_in ?? t.expiresIn);
  if (Number.isFinite(expiresIn) && expiresIn > 0) out.expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
  return out;
}

async function refresh(c, formKeys, req) {
  const inst = await instance(c, formKeys, req);
  if (typeof inst.connector.getAccessTokenByRefreshToken !== 'function') {
    throw bridgeError('not_implemented', 'this connector cannot refresh tokens');
  }
  if (!req.refreshToken) throw bridgeError('insufficient_request_parameters', 'no refresh token');
  return { tokens: tokensOf(await inst.connector.getAccessTokenByRefreshToken(req.refreshToken)) };
}

// ---- serving ----

async function handle(c, formKeys, msg) {
  switch (msg.op) {
    case 'ping':
      return { pid: process.pid, node: process.version };
    case 'init':
      // Sent only by the plugin's test build (tag logtotest): production plugins never
      // send a host map, and nothing in a connector's configuration reaches it.
      testHosts = msg.testHosts && typeof msg.testHosts === 'object' ? msg.testHosts : null;
      return {};
    case 'validate':
      validate(c, msg.config, formKeys);
      return {};
    case 'authorize':
      return authorize(c, formKeys, msg);
    case 'userinfo':
      return userInfo(c, formKeys, msg);
    case 'refresh':
      return refresh(c, formKeys, msg);
    case 'release':
      return release(msg);
    default:
      throw bridgeError('not_implemented', `unknown operation ${String(msg.op).slice(0, 32)}`);
  }
}

function serve(c, sock) {
  const formKeys = (c.probe.metadata?.formItems ?? []).map((i) => i.key);
  // Answers finished in the same turn of the event loop leave in one write: under
  // load many are, and each write is a trip through the stream and the kernel.
  let corked = false;
  const send = (obj) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(() => {
        corked = false;
        sock.uncork();
      });
    }
    sock.write(`${JSON.stringify(obj)}\n`);
  };
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) dispatch(line);
    }
    if (buf.length > maxLine) {
      process.stderr.write('bridge: a request line is too long; exiting\n');
      process.exit(2);
    }
  });
  const dispatch = (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      process.stderr.write('bridge: a request is not JSON; exiting\n');
      process.exit(2);
    }
    const store = { responses: [] };
    calls.run(store, async () => {
      try {
        send({ id: msg.id, result: await handle(c, formKeys, msg) });
      } catch (err) {
        const secrets = secretsOf(msg.config, msg.data, msg.session, msg.refreshToken);
        send({ id: msg.id, error: errorAnswer(err, store.responses, secrets) });
      }
    });
  };
  // The plugin is gone (or closed the channel): nothing more to do.
  sock.on('end', () => process.exit(0));
  sock.on('close', () => process.exit(0));
  sock.on('error', () => process.exit(0));
  send({ id: 0, result: { ready: true, pid: process.pid, node: process.version, version: c.version } });
}

// A connector's stray rejection must not end the process that serves every instance.
process.on('unhandledRejection', (err) => {
  process.stderr.write(`bridge: unhandled rejection: ${scrub(err?.message ?? err, [])}\n`);
});

const [mode, pkg] = process.argv.slice(2);
if (mode === '--catalog') {
  // Written when the bundle is built: every connector this bundle's package.json
  // names, so the plugin serves metadata without starting Node.
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
  writeFileSync(pkg, `${JSON.stringify({ node: process.version, connectors }, null, 2)}\n`);
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
