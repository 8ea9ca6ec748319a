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

// callbackFields returns the callback data connector pkg gets.
export function callbackFields(pkg, data) {
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
