// What the bridge checks in a callback before a connector takes it for the
// provider's word.
import { bridgeError } from './errors.mjs';

// Apple's form_post carries the user's name and email in a "user" field, in the
// clear (at the first sign-in only), and Logto's Apple connector takes that email
// over its ID token's: whoever posts the callback (the person signing in, with the
// ID token of their own sign-in) could name any address and come back as its owner.
// The bridge keeps the name and drops the email; the connector then takes the ID
// token's, when Apple verified it, as it does at every later sign-in.
const connectorsReadingUser = new Set(['@logto/connector-apple']);

// Fields of flows the bridge never starts, which a connector would take in
// place of the code exchange. Logto's Google connector reads a callback with
// `credential` as Google One Tap's: it checks that ID token's signature, issuer
// and audience, and nothing else; no nonce, nothing of this sign-in. Whoever
// holds any ID token Google issued to this client (an app's, handed out by the
// vault or another app of the operator's, one from a log) put it in their own
// callback, with a made-up code, and signed in as its owner.
const otherFlowFields = new Map([
  ['@logto/connector-google', ['credential', 'g_csrf_token']],
]);

// callbackFields returns the callback data connector pkg gets.
export function callbackFields(pkg, data) {
  for (const field of otherFlowFields.get(pkg) ?? []) {
    if (Object.hasOwn(data, field)) {
      throw bridgeError('invalid_request_parameters', `the callback carries ${field}, of a flow this sign-in never started`);
    }
  }
  if (!connectorsReadingUser.has(pkg) || typeof data.user !== 'string') return data;
  let user;
  try {
    user = JSON.parse(data.user);
  } catch {
    return data; // the connector's own guard refuses it
  }
  if (!user || typeof user !== 'object' || Array.isArray(user) || !Object.hasOwn(user, 'email')) return data;
  const { email, ...rest } = user;
  return { ...data, user: JSON.stringify(rest) };
}

// checkNonce refuses a callback's ID token that does not carry the nonce the
// connector kept for this sign-in. Logto's Apple connector compares the two only
// when the token has a nonce: one Apple issued to this client without any (another
// flow's) passed as this sign-in's, for whoever held it. The token's signature is
// the connector's to check; a forged one that passes here fails there.
export function checkNonce(stored, data) {
  if (typeof stored?.nonce !== 'string' || stored.nonce === '' || typeof data.id_token !== 'string') return;
  let claims;
  try {
    claims = JSON.parse(Buffer.from(data.id_token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    claims = null;
  }
  if (claims?.nonce !== stored.nonce) {
    throw bridgeError('social_invalid_id_token', 'the ID token does not carry the nonce of this sign-in');
  }
}
