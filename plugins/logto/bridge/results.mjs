// A connector's profile and tokens in idplug's shape.
import { bridgeError } from './errors.mjs';
import { exactNumbers, inexactNumber } from './inexact-numbers.mjs';

// profileOf is the connector's profile p, with no value of its rawData that carries
// one of secrets (see withoutSecrets).
export function profileOf(p, secrets = []) {
  if (!p || (typeof p.id !== 'string' && typeof p.id !== 'number') || String(p.id) === '') {
    throw bridgeError('invalid_response', 'the connector returned a profile without an id');
  }
  const out = { id: String(p.id) };
  // A numeric id past 2^53 lost digits when the connector read it, and would sign in
  // whichever user has the id it became (inexact-numbers.mjs).
  if (inexactNumber(out.id)) {
    throw bridgeError('invalid_response', "the provider's user id is a number past 2^53, which the connector read without its last digits: it could be another user's id");
  }
  const s = secretsOf(secrets);
  if (carries(out.id, s)) {
    throw bridgeError('invalid_response', "the connector returned a profile whose id carries the sign-in's code or a token");
  }
  for (const k of ['name', 'avatar', 'email', 'phone']) {
    // An avatar URL with ?access_token= in it goes to every app: left out.
    if (typeof p[k] === 'string' && !carries(p[k], s)) out[k] = p[k];
  }
  if (p.rawData !== undefined) {
    const raw = withoutSecrets(p.rawData, s);
    if (raw !== undefined) out.rawData = exactNumbers(raw);
  }
  return out;
}

// withoutSecrets is rawData less every value (and every key) that carries one of
// s (secretsOf the sign-in's secrets: the callback's code or ID token, a token a
// provider answered with). Apps receive rawData, and Logto's Apple connector
// returns the whole callback there, its code and ID token in it; any connector
// may copy a token answer there too.
function withoutSecrets(raw, s) {
  if (s.length === 0) return raw;
  let text;
  try {
    text = JSON.stringify(raw);
  } catch {
    return undefined; // not JSON: the plugin could not have sent it on either
  }
  // Most profiles carry none: one search of their JSON text, escaped as it escapes.
  if (text === undefined || !s.some((x) => text.includes(JSON.stringify(x).slice(1, -1)))) return raw;
  return scrub(raw, s, 0);
}

// secretsOf is what is looked for: each secret of 8 characters or more (shorter
// ones are no tokens), and its URL-encoded form too (a code copied into a URL's
// query).
function secretsOf(secrets) {
  const out = new Set();
  for (const x of secrets) {
    if (typeof x !== 'string' || x.length < 8) continue;
    out.add(x);
    out.add(encodeURIComponent(x));
  }
  return [...out];
}

// maxScrubDepth bounds the walk: what lies deeper (and carries a secret, or the
// walk would not be here) is dropped whole.
const maxScrubDepth = 64;

function carries(v, s) {
  return typeof v === 'string' && s.some((x) => v.includes(x));
}

function scrub(v, s, depth) {
  if (carries(v, s)) return undefined;
  if (v === null || typeof v !== 'object') return v;
  if (depth >= maxScrubDepth) return undefined;
  if (Array.isArray(v)) return v.map((e) => scrub(e, s, depth + 1)).filter((e) => e !== undefined);
  const out = {};
  for (const [k, e] of Object.entries(v)) {
    if (carries(k, s)) continue;
    const kept = scrub(e, s, depth + 1);
    if (kept !== undefined) out[k] = kept;
  }
  return out;
}

export function tokensOf(t) {
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
  // A lifetime whose end is past the year 9999 is left out, as none: past that year
  // the plugin could not read the date (RFC 3339), past some 285,000 years
  // toISOString threw, and either failed the sign-in the provider had answered.
  const expiresIn = Number(t.expires_in ?? t.expiresIn);
  const expiresAt = new Date(Date.now() + expiresIn * 1000);
  if (Number.isFinite(expiresIn) && expiresIn > 0 && expiresAt.getUTCFullYear() <= 9999) out.expiresAt = expiresAt.toISOString();
  return out;
}
