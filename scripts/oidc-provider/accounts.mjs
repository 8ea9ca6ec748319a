// The End-Users the provider knows, and the claims each scope releases.

// Used when the configuration names no account.
const DEFAULT_ACCOUNT = {
  sub: 'alice',
  claims: {
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    email: 'alice@example.com',
    email_verified: true,
    picture: 'https://example.com/alice.png',
    phone_number: '+15555550100',
    phone_number_verified: true,
  },
};

// parseAccounts checks config.accounts and returns a Map from sub to account.
export function parseAccounts(value) {
  let accounts = value ?? [];
  if (!Array.isArray(accounts)) throw new Error('config.accounts must be an array');
  if (accounts.length === 0) accounts = [DEFAULT_ACCOUNT];
  const accountMap = new Map();
  for (const [i, account] of accounts.entries()) {
    if (account === null || typeof account !== 'object' || typeof account.sub !== 'string' || !account.sub) {
      throw new Error(`config.accounts[${i}] must be an object with a non-empty sub`);
    }
    if (accountMap.has(account.sub)) throw new Error(`config.accounts: duplicate sub ${JSON.stringify(account.sub)}`);
    if (account.acr !== undefined && (typeof account.acr !== 'string' || !account.acr)) {
      throw new Error(`config.accounts[${i}].acr must be a non-empty string`);
    }
    accountMap.set(account.sub, { sub: account.sub, acr: account.acr, claims: { ...(account.claims ?? {}) } });
  }
  return accountMap;
}

// accountSettings is the part of the oidc-provider configuration about
// accounts, claims and scopes.
export function accountSettings(accounts) {
  // The acr values the accounts sign in with: oidc-provider puts an acr in ID
  // tokens only when it has some to advertise.
  const acrValues = [...new Set([...accounts.values()].map((a) => a.acr).filter(Boolean))];
  return {
    acrValues,
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...account.claims, sub };
        },
      };
    },

    claims: {
      openid: ['sub'],
      profile: [
        'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
        'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
      ],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
      address: ['address'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'address'],
  };
}
