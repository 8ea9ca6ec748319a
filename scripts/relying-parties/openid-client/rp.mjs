// A relying party built on openid-client (an OpenID-certified client library),
// driven one step at a time over stdin and stdout: each line in is a JSON
// command, each line out the JSON answer to it, in order. The driver plays the
// browser: it opens the authorization URL this program builds, follows the
// redirects, and hands the callback URL back. Everything the library checks
// (state, PKCE, the ID token's signature, issuer, audience and nonce, RFC 9207
// iss) it checks here as it would in an app; a refused step answers
// {"error": {...}} with what the library said.
//
// Commands:
//   {"op": "discover", "issuer", "client_id", "auth": "client_secret_basic" |
//      "none" | "private_key_jwt", "client_secret"?, "private_jwk"?,
//      "id_token_alg"?}
//   {"op": "authorize", "redirect_uri", "scope", "params"?}  -> {"url"}
//   {"op": "callback", "url"}      -> the code exchange: {"claims", "scope", ...}
//   {"op": "userinfo"}             -> {"userinfo"}
//   {"op": "refresh", "refresh_token"?} -> {"rotated", "claims"?}; without a
//      token it refreshes with the latest one, with one it uses that one
//   {"op": "end_session", "post_logout_redirect_uri", "state"} -> {"url"}
import { createInterface } from 'node:readline';
import * as client from 'openid-client';

const state = {
  config: undefined,
  // The authorization request's secrets, kept here as an app keeps them in
  // its session: never sent to the driver.
  pending: undefined,
  tokens: undefined,
  sub: undefined,
  refreshToken: undefined,
  idToken: undefined,
};

async function clientAuth(cmd) {
  switch (cmd.auth) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(cmd.client_secret);
    case 'none':
      return client.None();
    case 'private_key_jwt': {
      // An EC P-256 key as a JWK; the assertion names its kid.
      const { d, kty, crv, x, y, kid } = cmd.private_jwk;
      const key = await crypto.subtle.importKey('jwk', { d, kty, crv, x, y }, { name: 'ECDSA', namedCurve: crv }, false, ['sign']);
      return client.PrivateKeyJwt({ key, kid });
    }
    default:
      throw new Error(`unknown client authentication ${cmd.auth}`);
  }
}

const ops = {
  async discover(cmd) {
    const issuer = new URL(cmd.issuer);
    const options = issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined;
    const metadata = { token_endpoint_auth_method: cmd.auth };
    // The ID token algorithm the client registered (RS256 when not said).
    if (cmd.id_token_alg) metadata.id_token_signed_response_alg = cmd.id_token_alg;
    state.config = await client.discovery(issuer, cmd.client_id, metadata, await clientAuth(cmd), options);
    const m = state.config.serverMetadata();
    return {
      issuer: m.issuer,
      authorization_response_iss_parameter_supported: m.authorization_response_iss_parameter_supported === true,
      code_challenge_methods_supported: m.code_challenge_methods_supported,
      end_session_endpoint: m.end_session_endpoint,
    };
  },

  async authorize(cmd) {
    const verifier = client.randomPKCECodeVerifier();
    const pending = {
      verifier,
      state: client.randomState(),
      nonce: client.randomNonce(),
      redirectUri: cmd.redirect_uri,
    };
    const url = client.buildAuthorizationUrl(state.config, {
      redirect_uri: cmd.redirect_uri,
      scope: cmd.scope,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(cmd.params ?? {}),
    });
    state.pending = pending;
    return { url: url.href };
  },

  async callback(cmd) {
    const p = state.pending;
    if (!p) throw new Error('no authorization request is pending');
    // The library checks iss (RFC 9207, required since discovery says the
    // provider sends it) and state before it spends the code, then the ID
    // token and its nonce after the exchange.
    const tokens = await client.authorizationCodeGrant(state.config, new URL(cmd.url), {
      pkceCodeVerifier: p.verifier,
      expectedState: p.state,
      expectedNonce: p.nonce,
      idTokenExpected: true,
    });
    state.pending = undefined;
    const claims = tokens.claims();
    state.tokens = tokens;
    state.sub = claims.sub;
    state.refreshToken = tokens.refresh_token;
    state.idToken = tokens.id_token;
    return {
      claims,
      scope: tokens.scope,
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      has_access_token: Boolean(tokens.access_token),
      refresh_token: tokens.refresh_token,
    };
  },

  async userinfo() {
    const info = await client.fetchUserInfo(state.config, state.tokens.access_token, state.sub);
    return { userinfo: info };
  },

  async refresh(cmd) {
    const used = cmd.refresh_token ?? state.refreshToken;
    const tokens = await client.refreshTokenGrant(state.config, used);
    const claims = tokens.id_token ? tokens.claims() : undefined;
    if (claims && claims.sub !== state.sub) {
      throw new Error(`the refreshed ID token is for ${claims.sub}, not ${state.sub}`);
    }
    state.tokens = tokens;
    if (tokens.refresh_token) state.refreshToken = tokens.refresh_token;
    if (tokens.id_token) state.idToken = tokens.id_token;
    return {
      used,
      refresh_token: tokens.refresh_token,
      rotated: Boolean(tokens.refresh_token) && tokens.refresh_token !== used,
      claims,
    };
  },

  async end_session(cmd) {
    const url = client.buildEndSessionUrl(state.config, {
      id_token_hint: state.idToken,
      post_logout_redirect_uri: cmd.post_logout_redirect_uri,
      state: cmd.state,
    });
    return { url: url.href };
  },
};

function describe(err) {
  return {
    name: err?.name,
    code: err?.code,
    message: String(err?.message ?? err),
    // What the library found wrong, when it says only that the response is invalid.
    cause: err?.cause?.message,
    // An OAuth error response from the provider, when that is what failed.
    oauth_error: err?.error,
    oauth_error_description: err?.error_description,
    status: err?.status,
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const cmd = JSON.parse(line);
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    answer = await op(cmd);
  } catch (err) {
    answer = { error: describe(err) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
