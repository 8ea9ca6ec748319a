// A connector's profile and tokens in idplug's shape.
import { bridgeError } from './errors.mjs';
import { inexactNumber } from './inexact-numbers.mjs';

export function profileOf(p) {
  if (!p || (typeof p.id !== 'string' && typeof p.id !== 'number') || String(p.id) === '') {
    throw bridgeError('invalid_response', 'the connector returned a profile without an id');
  }
  const out = { id: String(p.id) };
  // A numeric id past 2^53 lost digits when the connector read it, and would sign in
  // whichever user has the id it became (inexact-numbers.mjs).
  if (inexactNumber(out.id)) {
    throw bridgeError('invalid_response', "the provider's user id is a number past 2^53, which the connector read without its last digits: it could be another user's id");
  }
  for (const k of ['name', 'avatar', 'email', 'phone']) {
    if (typeof p[k] === 'string') out[k] = p[k];
  }
  if (p.rawData !== undefined) out.rawData = p.rawData;
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
