// Emails a connector returns that no one verified, left out of the profile: apps
// take a sign-in's email for its owner's (Logto links accounts by it).
//
// Microsoft Entra ID: Logto's connector returns Graph's `mail`, which is whatever
// the admin of the user's own tenant wrote there, verified by no one. With a
// multi-tenant authority (tenantId common or organizations) users of any tenant sign
// in, and anyone can make a tenant and name any address ("nOAuth"). The email is
// kept for a single tenant's authority, whose admins the operator trusts.
const multiTenant = new Set(['common', 'organizations']);

// verifiedEmails returns the profile connector pkg made with config, without an
// email no one verified.
export function verifiedEmails(pkg, config, profile) {
  if (pkg !== '@logto/connector-azuread' || !multiTenant.has(String(config?.tenantId ?? '').toLowerCase())) return profile;
  const { email, ...rest } = profile ?? {};
  return rest;
}
