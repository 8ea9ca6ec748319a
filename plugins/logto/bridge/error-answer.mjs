// The error answer of a failed call: idplug's code, a message with nothing secret in
// it, and details (the provider's status and OAuth error, the connector's own code,
// where a guard refused an answer).
import { classify } from './classify.mjs';
import { BridgeError, logtoCodes } from './errors.mjs';
import { describeIssue } from './issues.mjs';
import { scrub } from './scrub.mjs';

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

export function errorAnswer(err, responses, secrets) {
  const own = bridgeErrorIn(err);
  if (own) {
    return { code: own.bridgeCode, message: scrub(own.message, secrets), details: scrubDetails(own.details, secrets) };
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

// bridgeErrorIn finds the bridge's own error in err or its causes: the body cap's
// (provider-http.mjs) reaches here inside got's RequestError.
function bridgeErrorIn(err) {
  for (let e = err, i = 0; e && i < 4; e = e.cause, i++) {
    if (e instanceof BridgeError) return e;
  }
  return null;
}

function scrubDetails(details, secrets) {
  if (!details) return undefined;
  return JSON.parse(JSON.stringify(details), (k, v) => (typeof v === 'string' ? scrub(v, secrets) : v));
}
