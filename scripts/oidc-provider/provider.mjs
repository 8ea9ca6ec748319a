// The oidc-provider instance: its configuration (flows, tokens, features,
// lifetimes), the signing keys, request logging and the interaction routes.

import * as crypto from 'node:crypto';

import { accountSettings } from './accounts.mjs';
import { checkClients, clientSettings } from './clients.mjs';
import { interactionRoutes } from './interactions.mjs';
import { Provider } from './library.mjs';
import { errorPage, logoutPage, signedOutPage } from './pages.mjs';
import { log } from './stdio.mjs';

// signingKeys makes a new JWK set: RSA, P-256 and Ed25519, new at every start
// (and at every rotation).
export function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = crypto.generateKeyPairSync('ed25519');
  return {
    keys: [rsa, ec, ed].map(({ privateKey }) => privateKey.export({ format: 'jwk' })),
  };
}

function providerConfiguration(config) {
  const ONE_HOUR = 60 * 60;
  const FOURTEEN_DAYS = 14 * 24 * ONE_HOUR;

  return {
    adapter: config.adapter,
    jwks: config.jwks,
    ...accountSettings(config.accounts),
    ...clientSettings(config.clients),

    // Authorization code flow only. PKCE (S256 is the only method
    // oidc-provider 9 supports) is required for public clients and optional
    // for confidential ones.
    responseTypes: ['code'],
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },

    // A refresh token is issued whenever the client is allowed to use the
    // refresh_token grant; offline_access is not needed.
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },

    cookies: {
      keys: ['idplug-oidc-provider-cookie-key-1'],
    },

    features: {
      devInteractions: { enabled: false },
      // Access tokens stay opaque and are meant for the userinfo endpoint.
      resourceIndicators: { enabled: false },
      revocation: {
        enabled: true,
        async allowedPolicy(_ctx, client, token) {
          return token.clientId === client.clientId;
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = logoutPage(ctx.host, form);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
    },

    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },

    clientBasedCORS: () => true,

    ttl: {
      AccessToken: ONE_HOUR,
      AuthorizationCode: 60,
      IdToken: ONE_HOUR,
      RefreshToken: FOURTEEN_DAYS,
      Interaction: ONE_HOUR,
      Session: FOURTEEN_DAYS,
      Grant: FOURTEEN_DAYS,
    },
  };
}

const LOGGED_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'discovery.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'revocation.error',
  'userinfo.error',
];

function describeError(err) {
  let text = err.error ? `${err.error}: ${err.error_description ?? ''}` : String(err.message ?? err);
  if (err.error_detail) text += ` (${err.error_detail})`;
  if (err.cause?.message) text += ` [cause: ${err.cause.message}]`;
  return text;
}

export async function createProvider(issuer, config) {
  const provider = new Provider(issuer, providerConfiguration(config));
  await checkClients(provider, config.clients);
  provider.use(async (ctx, next) => {
    const started = Date.now();
    try {
      await next();
    } finally {
      log(`${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - started}ms`);
    }
  });
  provider.use(interactionRoutes(provider, config));
  for (const event of LOGGED_EVENTS) {
    provider.on(event, (_ctx, err) => log(`${event} ${describeError(err)}`));
  }
  provider.on('server_error', (_ctx, err) => log('server_error', err));
  provider.on('error', (err) => {
    if (err.status >= 500 || !err.expose) log('error', err);
  });

  return provider;
}
