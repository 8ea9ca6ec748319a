import { logtoClient } from '../../../libraries/logto';

// /api/logto/sign-in, /sign-in-callback, /sign-out and /user.
export default function handler(request, response) {
  return logtoClient().handleAuthRoutes()(request, response);
}
