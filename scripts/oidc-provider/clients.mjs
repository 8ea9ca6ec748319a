// Client registrations: the configured clients are passed to oidc-provider as
// they are, over these defaults and client authentication methods.

// parseClients checks config.clients.
export function parseClients(value) {
  const clients = value ?? [];
  if (!Array.isArray(clients)) throw new Error('config.clients must be an array');
  for (const [i, client] of clients.entries()) {
    if (client === null || typeof client !== 'object' || typeof client.client_id !== 'string') {
      throw new Error(`config.clients[${i}] must be an object with a client_id`);
    }
  }
  return clients;
}

// clientSettings is the part of the oidc-provider configuration about
// clients.
export function clientSettings(clients) {
  return {
    clients,
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
    },
  };
}

// checkClients loads every configured client now: oidc-provider checks static
// client metadata on first use, and a bad configuration should fail the start
// instead of a later request.
export async function checkClients(provider, clients) {
  for (const { client_id: clientId } of clients) {
    try {
      await provider.Client.find(clientId);
    } catch (err) {
      throw new Error(`client ${JSON.stringify(clientId)}: ${err.error_description ?? err.message}`);
    }
  }
}
