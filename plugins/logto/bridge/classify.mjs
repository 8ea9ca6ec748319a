// Mapping a connector's failure to idplug's error code, from what it threw and what
// the provider answered during the call.
import { logtoCodes } from './errors.mjs';
import { maxPeek, oauthErrorOf, oauthErrorRE } from './oauth-error.mjs';

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
export function classify(err, responses) {
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
  if (isTimeout(err) || responses.some((r) => r.timedOut)) return { code: 'provider_timeout', details };
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
