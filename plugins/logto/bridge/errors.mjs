// What the bridge throws itself, and the codes Logto's connectors use.

export const logtoCodes = new Set([
  'general', 'invalid_metadata', 'invalid_config', 'invalid_request_parameters', 'insufficient_request_parameters',
  'invalid_response', 'not_implemented', 'rate_limit_exceeded', 'social_auth_code_invalid',
  'social_invalid_access_token', 'social_invalid_id_token', 'authorization_failed',
]);

export class BridgeError extends Error {
  constructor(code, message, details) {
    super(message);
    this.bridgeCode = code;
    this.details = details;
  }
}

export function bridgeError(code, message, details) {
  return new BridgeError(code, message, details);
}
