// Every request a connector makes to its provider, through fetch, node:https or
// node:http: a deadline and a cap on the body whatever the connector asked for,
// the status and OAuth error of each answer recorded for the call that made it,
// and (in the plugin's test build only) fixed provider hosts sent to a local stub.
//
// Importing this module replaces globalThis.fetch and the request and get of
// node:https and node:http; the entry file imports it before any connector is
// loaded.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';

import { httpAgent, httpsAgent, proxiedFetch, useConnectTime } from './egress.mjs';
import { bridgeError } from './errors.mjs';
import { maxPeek, oauthErrorOf } from './oauth-error.mjs';

// What each call's requests answered: the serving loop runs every call in its own
// store ({ responses: [] }), and the error answer reads it.
export const calls = new AsyncLocalStorage();
let testHosts = null; // {"api.github.com": "http://127.0.0.1:port"}: set only by the plugin's test build

// useTestHosts sets the host map; only the plugin's test build sends one.
export function useTestHosts(hosts) {
  testHosts = hosts;
}

function record(status, oauthError) {
  const store = calls.getStore();
  if (store) store.responses.push({ status, oauthError });
}

// When the plugin traces a call (its request carried a traceparent, and the call's
// store has a spans list), each provider request is recorded for the plugin to
// turn into a span: method, URL without query or credentials, status, times in
// milliseconds since the epoch. A bounded number per call.
const maxSpans = 32;
const now = () => performance.timeOrigin + performance.now();

function startSpan(method, href) {
  const store = calls.getStore();
  if (!store?.spans || store.spans.length >= maxSpans || !href) return null;
  let url = '';
  try {
    const u = new URL(href);
    url = `${u.protocol}//${u.host}${u.pathname}`;
  } catch {}
  const span = { method: String(method || 'GET').toUpperCase().slice(0, 16), url, status: 0, error: '', start: now(), end: 0 };
  store.spans.push(span);
  return span;
}

function endSpan(span, status, err) {
  if (!span || span.end) return;
  span.end = now();
  if (status) span.status = status;
  if (err) span.error = String(err.name || 'Error').slice(0, 64);
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

// callDeadline is when the provider requests of a call with timeLeft milliseconds
// left (as the plugin sends it) must end: before the call must answer, by a fifth
// of its time (a quarter of a second to a second), so that a provider's silence
// reaches the host as the call's provider_timeout. The connectors' own timeouts
// (ky's ten seconds) outlast a call, which the host then gave up on as the plugin's
// (plugin_timeout) while its requests ran on in Node. 0 for a call without one.
export function callDeadline(timeLeft) {
  const left = Number(timeLeft);
  if (!Number.isFinite(left) || left <= 0) return 0;
  return Date.now() + left - Math.min(1000, Math.max(250, left / 5));
}

// requestTime is how long a request may take: requestTimeout, or less when the call
// that makes it must answer sooner.
function requestTime(store) {
  const end = store?.deadline;
  return end ? Math.max(0, Math.min(requestTimeout, end - Date.now())) : requestTimeout;
}

// A connection to the provider is made within the time its request has.
useConnectTime(() => requestTime(calls.getStore()));

// timedOut records for the call that its request ran out of time, whatever error the
// connector's client makes of the request's end (got's, once the answer has begun, is
// a read error).
function timedOut(store) {
  store?.responses.push({ status: 0, oauthError: '', timedOut: true });
}

// tooLarge is the cap's error: the call answers invalid_response with this message
// whichever client the connector used and whatever wraps it on the way (got keeps
// it as the cause of its RequestError; error-answer.mjs looks there).
function tooLarge() {
  return bridgeError('invalid_response', `the provider's answer is larger than ${maxBody} bytes`);
}

// A redirect is never followed, as idplug's own connectors follow none: got sends a
// token request's form, the code and the client's credentials in it, again to the
// host a 301, 302, 307 or 308 names (it follows any 3xx with a Location), fetch
// follows a 303 and any redirect of a GET and takes the answer for the provider's,
// and with egress open either could lead to any address of the network.
function redirectOf(status, location) {
  return status >= 300 && status < 400 && Boolean(location);
}

function redirectRefused(status) {
  return bridgeError('invalid_response', `the provider answered with a redirect (HTTP ${status}), which the bridge does not follow`);
}

// Statuses whose Response must have no body.
const nullBodyStatus = new Set([101, 103, 204, 205, 304]);

// buffered reads res's whole body, failing once it passes maxBody bytes, and returns
// the bytes with a fresh Response over them: the connector reads that as it would
// have read the provider's, and the bridge looks for the provider's OAuth error in
// the same bytes. One read serves both: a capping stream piped through, plus a clone
// to peek into, would copy every body twice more.
async function buffered(res) {
  const chunks = [];
  let n = 0;
  if (res.body) {
    if (Number(res.headers.get('content-length')) > maxBody) {
      res.body.cancel().catch(() => {});
      throw tooLarge();
    }
    for await (const chunk of res.body) {
      n += chunk.byteLength;
      if (n > maxBody) throw tooLarge();
      chunks.push(chunk);
    }
  }
  const bytes = Buffer.concat(chunks, n);
  const body = nullBodyStatus.has(res.status) ? null : bytes;
  return { res: new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers }), bytes };
}

// Through the host's egress proxy when the plugin has no network of its own.
const realFetch = proxiedFetch ?? globalThis.fetch;
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
  const store = calls.getStore();
  const timer = setTimeout(() => {
    timedOut(store);
    deadline.abort(new DOMException('the provider did not answer in time', 'TimeoutError'));
  }, requestTime(store));
  // The connector's own signal (ky sets one) ends the request too. Linked by hand:
  // AbortSignal.any costs far more per request than one listener.
  const given = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  const follow = () => deadline.abort(given.reason);
  if (given?.aborted) follow();
  else given?.addEventListener('abort', follow, { once: true });
  const span = startSpan(init?.method ?? (input instanceof Request ? input.method : 'GET'), href);
  let res, bytes;
  try {
    const answer = await realFetch(target, { ...init, signal: deadline.signal, redirect: 'manual' });
    if (redirectOf(answer.status, answer.headers.get('location'))) {
      endSpan(span, answer.status);
      answer.body?.cancel().catch(() => {});
      throw redirectRefused(answer.status);
    }
    ({ res, bytes } = await buffered(answer));
    endSpan(span, res.status);
  } catch (err) {
    endSpan(span, 0, err);
    throw err;
  } finally {
    clearTimeout(timer);
    given?.removeEventListener('abort', follow);
  }
  if (store) {
    let oauthError = '';
    const type = res.headers.get('content-type') ?? '';
    const lookForError = res.status >= 400 || /json|form/.test(type);
    if (lookForError || res.status < 300) {
      const text = bytes.toString('utf8', 0, Math.min(bytes.length, maxPeek));
      if (lookForError) oauthError = oauthErrorOf(text);
      // Whatever the type says: a token answer sent as text/plain is one still.
      if (res.status < 300) noteTokens(store, text);
    }
    record(res.status, oauthError);
  }
  return res;
};

// noteTokens keeps, for the call, the tokens a provider's answer hands out, so that
// the profile can be kept free of them (results.mjs): a connector may copy a token
// answer into the profile's rawData, which apps receive.
// Its fields are found by name, snake_case or camelCase, at the top or a few
// levels down (Alipay's answer nests them, others under "data").
const tokenField = /^(access|refresh|id)_?token$/i;
const tokenDepth = 4;
function noteTokens(store, text) {
  if (!/token/i.test(text)) return;
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    v = Object.fromEntries(new URLSearchParams(text));
  }
  const walk = (o, depth) => {
    if (!o || typeof o !== 'object' || depth > tokenDepth) return;
    for (const [k, x] of Object.entries(o)) {
      if (typeof x === 'string' && x !== '' && tokenField.test(k)) (store.secrets ??= []).push(x);
      else walk(x, depth + 1);
    }
  };
  walk(v, 0);
}

// optionsHref is the URL of a request given as options, "" without a host.
function optionsHref(o, scheme) {
  const host = o.hostname ?? o.host;
  if (!host) return '';
  const port = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${o.port && Number(o.port) !== port ? `:${o.port}` : ''}${o.path ?? '/'}`;
}

// got uses node:https and node:http (jose's key fetch uses fetch since jose 6), and
// so may any connector: every request of either gets what a fetch gets (the
// deadline, the cap, no redirect, its status recorded), plain http included, which
// reached the provider with none of these where egress is open. In the test build a
// mapped https host is sent to the stub over plain HTTP.
const realHttpRequest = http.request;
const realHttpsRequest = https.request;

// startRequest makes the connector's request as it asked, but through the egress
// proxy's tunnels when there is one, and a mapped host to the stub.
function startRequest(scheme, args, given, href) {
  const mapped = scheme === 'https' && href ? mapURL(href) : null;
  if (mapped) {
    const opts = typeof given === 'object' && given !== null ? { ...given } : {};
    delete opts.agent;
    delete opts.host;
    delete opts.hostname;
    delete opts.port;
    delete opts.protocol;
    if (httpAgent) opts.agent = httpAgent;
    const cb = args.find((a) => typeof a === 'function');
    return realHttpRequest.call(http, mapped, opts, cb);
  }
  if (scheme === 'https') return realHttpsRequest.apply(https, httpsAgent ? withAgent(args, httpsAgent) : args);
  return realHttpRequest.apply(http, httpAgent ? withAgent(args, httpAgent) : args);
}

function recordedRequest(scheme, ...args) {
  const first = args[0];
  // (url[, options][, cb]) or (options[, cb]), as MSAL calls it.
  const given = typeof first === 'object' && first !== null && !(first instanceof URL) ? first : args[1];
  const named = given === first ? optionsHref(first, scheme) : null;
  const href = typeof first === 'string' ? first : first instanceof URL ? first.href : null;
  const req = startRequest(scheme, args, given, href ?? named);
  const span = startSpan(req.method ?? given?.method, href ?? named ?? '');
  // The answer of a redirect never reaches the connector's client: got would follow
  // it from its own listener, before any error of ours could stop it.
  const emit = req.emit;
  req.emit = function emitUnlessRedirect(event, res, ...rest) {
    if (event === 'response' && redirectOf(res.statusCode, res.headers.location)) {
      endSpan(span, res.statusCode);
      res.resume();
      req.destroy(redirectRefused(res.statusCode));
      return true;
    }
    return emit.call(this, event, res, ...rest);
  };
  req.on('response', (res) => endSpan(span, res.statusCode));
  req.on('error', (err) => endSpan(span, 0, err));
  req.on('close', () => endSpan(span, 0));
  // The deadline covers the whole exchange: a provider that sends its answer a byte
  // at a time never lets a socket's idle timeout fire. Its error has no code got
  // tries a request again for (ETIMEDOUT is one), a second or two later, past the
  // call's deadline.
  const store = calls.getStore();
  const timer = setTimeout(() => {
    timedOut(store);
    req.destroy(Object.assign(new Error('the provider did not answer in time'), { name: 'TimeoutError' }));
  }, requestTime(store));
  req.once('close', () => clearTimeout(timer));
  // The answer is asked for without a content coding, so that the bytes counted
  // below are the body's: got would inflate a compressed one where no count reaches
  // (a few MiB of gzip can be gigabytes). Set before anything is sent.
  if (!req.headersSent) req.setHeader('accept-encoding', 'identity');
  req.on('response', (res) => {
    if (store) store.responses.push({ status: res.statusCode, oauthError: '' });
    capBody(req, res, store && res.statusCode < 300 ? (text) => noteTokens(store, text) : null);
  });
  return req;
}

// capBody destroys req once its answer's body passes maxBody bytes, announced or
// not (a chunked answer has no Content-Length), or once it brings bytes in a content
// coding, which the request did not accept. The bytes are counted as Node's parser
// hands them to res (its push), before any reader: listening for 'data' would set
// the body flowing before got is listening. This runs within the 'response' event,
// before the first byte of the body. peek, when given, gets the body's first maxPeek
// bytes as text once it has all arrived.
function capBody(req, res, peek) {
  if (Number(res.headers['content-length']) > maxBody) {
    req.destroy(tooLarge());
    return;
  }
  const coding = String(res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const coded = coding !== '' && coding !== 'identity';
  let n = 0;
  const kept = [];
  if (peek) res.once('end', () => peek(Buffer.concat(kept).toString('utf8', 0, Math.min(n, maxPeek))));
  const push = res.push;
  res.push = function pushCounted(chunk, encoding) {
    if (chunk?.length) {
      if (coded) {
        req.destroy(bridgeError('invalid_response', "the provider's answer is compressed though the bridge asked for none: its size could not be bounded"));
        return false;
      }
      if (peek && n < maxPeek) kept.push(Buffer.from(chunk, typeof chunk === 'string' ? encoding : undefined));
      n += chunk.length;
      if (n > maxBody) {
        req.destroy(tooLarge());
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  };
}
https.request = (...args) => recordedRequest('https', ...args);
http.request = (...args) => recordedRequest('http', ...args);

// withAgent sets agent on a request's arguments, (url[, options][, cb]) or
// (options[, cb]), whatever agent the connector chose: only the tunnel leads out.
function withAgent(args, agent) {
  const out = [...args];
  if (typeof out[0] === 'string' || out[0] instanceof URL) {
    if (typeof out[1] === 'object' && out[1] !== null) out[1] = { ...out[1], agent };
    else out.splice(1, 0, { agent });
  } else {
    out[0] = { ...out[0], agent };
  }
  return out;
}
https.get = function httpsGet(...args) {
  const req = recordedRequest('https', ...args);
  req.end();
  return req;
};
http.get = function httpGet(...args) {
  const req = recordedRequest('http', ...args);
  req.end();
  return req;
};
