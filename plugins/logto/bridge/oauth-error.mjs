// Finding a provider's OAuth error code (RFC 6749's "error", or WeChat's "errcode")
// in the body it answered with.

// A cap on how much of a body is searched, so a runaway answer cannot exhaust memory.
export const maxPeek = 64 << 10;

export const oauthErrorRE = /^[A-Za-z0-9_.-]{1,64}$/;

export function oauthErrorOf(text) {
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
