// Interactions: the sign-in and consent steps oidc-provider hands over to
// /interaction/UID. With "interactions": "auto" they complete without a page
// (login_hint or the first account); with "form" a sign-in page is shown.
// Consent is always granted.

import { log } from './stdio.mjs';
import { errors } from './library.mjs';
import { errorPage, loginPage } from './pages.mjs';

const MAX_FORM_BYTES = 64 * 1024;

async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new errors.InvalidRequest('expected an application/x-www-form-urlencoded body');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function finish(provider, ctx, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

// loginResult signs accountId in, with the authentication context (acr) its
// account asserts, if any.
function loginResult(config, accountId) {
  const { acr } = config.accounts.get(accountId);
  return acr ? { accountId, acr } : { accountId };
}

export function interactionRoutes(provider, config) {
  const firstAccount = config.accounts.keys().next().value;
  const route = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/;

  return async function interactions(ctx, next) {
    const match = route.exec(ctx.path);
    if (!match) return next();
    const [, uid, action] = match;
    if ((action && ctx.method !== 'POST') || (!action && ctx.method !== 'GET')) return next();

    ctx.set('cache-control', 'no-store');
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
      const { prompt, params } = details;
      const client = await provider.Client.find(params.client_id);
      const clientName = client?.clientName ?? params.client_id;

      if (action === 'abort') {
        await finish(provider, ctx, {
          error: 'access_denied',
          error_description: 'End-User aborted interaction',
        });
        return undefined;
      }

      if (action === 'login') {
        if (prompt.name !== 'login') throw new errors.InvalidRequest('no login pending for this interaction');
        const form = await readForm(ctx.req);
        const username = (form.get('username') ?? '').trim();
        const password = form.get('password') ?? '';
        if (!config.accounts.has(username) || password === '') {
          ctx.type = 'html';
          ctx.body = loginPage({
            uid, clientName, username, error: 'Unknown username or password.',
          });
          return undefined;
        }
        log(`interaction ${uid}: signed in as ${username}`);
        await finish(provider, ctx, { login: loginResult(config, username) });
        return undefined;
      }

      switch (prompt.name) {
        case 'login': {
          const hint = params.login_hint;
          if (config.interactions === 'form') {
            ctx.type = 'html';
            ctx.body = loginPage({ uid, clientName, username: hint ?? '' });
            return undefined;
          }
          if (hint !== undefined && !config.accounts.has(hint)) {
            log(`interaction ${uid}: unknown login_hint ${JSON.stringify(hint)}`);
            await finish(provider, ctx, {
              error: 'access_denied',
              error_description: 'unknown login_hint',
            });
            return undefined;
          }
          const accountId = hint ?? firstAccount;
          log(`interaction ${uid}: signed in as ${accountId}`);
          await finish(provider, ctx, { login: loginResult(config, accountId) });
          return undefined;
        }
        case 'consent': {
          const grantId = await grantConsent(provider, details);
          await finish(provider, ctx, { consent: { grantId } });
          return undefined;
        }
        default:
          throw new errors.InvalidRequest(`unsupported prompt ${prompt.name}`);
      }
    } catch (err) {
      const status = err.statusCode ?? err.status ?? 500;
      if (status >= 500) log('interaction error:', err);
      ctx.status = status;
      ctx.type = 'html';
      ctx.body = errorPage({
        error: err.error ?? 'server_error',
        error_description: err.error_description ?? (status >= 500 ? 'internal error' : err.message),
      });
      return undefined;
    }
  };
}
