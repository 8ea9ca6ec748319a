// The sign-in flow, and what Logto's core does around its connectors that the bridge
// does here: the state check, the redirect URI put into the callback data, the
// session kept between the two steps, the tokens handed back.
import { timingSafeEqual } from 'node:crypto';

import { callbackFields, checkNonce } from './callback-checks.mjs';
import { verifiedEmails } from './emails.mjs';
import { bridgeError } from './errors.mjs';
import { instance } from './instances.mjs';
import { oauthErrorRE } from './oauth-error.mjs';
import { calls } from './provider-http.mjs';
import { profileOf, tokensOf } from './results.mjs';

export async function authorize(c, formKeys, req) {
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

// maxCallbackFields bounds a callback's fields: a provider sends a handful, and
// every value is kept out of what the bridge says (scrub.mjs), one by one, over
// the whole message. Thousands of short fields in one callback held Node, and
// with it every instance's calls, for seconds each.
const maxCallbackFields = 64;

export async function userInfo(c, formKeys, req) {
  const fields = Object.keys(stringMap(req.data)).length;
  if (fields > maxCallbackFields) {
    throw bridgeError('invalid_request_parameters', `the callback has ${fields} fields; at most ${maxCallbackFields}`);
  }
  const inst = await instance(c, formKeys, req);
  const session = stringMap(req.session);
  const data = { ...callbackFields(c.pkg, stringMap(req.data)) };
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
  checkNonce(stored, data);
  const getSession = async () => ({ ...stored, redirectUri: session.redirectUri });
  if (inst.storeTokens) {
    const { tokenResponse, userInfo: profile } = await inst.connector.getTokenResponseAndUserInfo(data, getSession);
    const tokens = tokensOf(tokenResponse);
    const secrets = [...signInSecrets(data), tokens?.accessToken, tokens?.refreshToken, tokens?.idToken];
    return { userInfo: profileOf(verifiedEmails(c.pkg, inst.config, profile), secrets), tokens };
  }
  const profile = await inst.connector.getUserInfo(data, getSession);
  return { userInfo: profileOf(verifiedEmails(c.pkg, inst.config, profile), signInSecrets(data)) };
}

// signInSecrets are what the profile must not carry: the callback's code and tokens
// (Apple's form_post brings an ID token; auth_code, authCode and idToken as some
// providers name them), and the tokens the call's provider answers handed out
// (provider-http.mjs).
function signInSecrets(data) {
  const fromCallback = Object.entries(data)
    .filter(([k, v]) => typeof v === 'string' && /(code|token)$/i.test(k))
    .map(([, v]) => v);
  return [...fromCallback, ...(calls.getStore()?.secrets ?? [])];
}

export async function refresh(c, formKeys, req) {
  const inst = await instance(c, formKeys, req);
  if (typeof inst.connector.getAccessTokenByRefreshToken !== 'function') {
    throw bridgeError('not_implemented', 'this connector cannot refresh tokens');
  }
  if (!req.refreshToken) throw bridgeError('insufficient_request_parameters', 'no refresh token');
  return { tokens: tokensOf(await inst.connector.getAccessTokenByRefreshToken(req.refreshToken)) };
}
