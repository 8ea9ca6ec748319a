import LogtoClient from '@logto/next';

// The client of Logto's Next.js (Pages Router) guide. Its settings come from
// the environment when the server starts (the build holds none): endpoint is
// the provider's base URL, and the SDK finds the issuer at {endpoint}/oidc.
let client;

export function logtoClient() {
  if (!client) {
    const baseUrl = process.env.LOGTO_BASE_URL;
    client = new LogtoClient({
      endpoint: process.env.LOGTO_ENDPOINT,
      appId: process.env.LOGTO_APP_ID,
      appSecret: process.env.LOGTO_APP_SECRET,
      baseUrl,
      cookieSecret: process.env.LOGTO_COOKIE_SECRET,
      cookieSecure: baseUrl.startsWith('https:'),
      // openid, profile and offline_access are added by the SDK.
      scopes: ['email'],
    });
  }
  return client;
}
