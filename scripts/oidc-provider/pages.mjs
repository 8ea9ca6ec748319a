// The HTML pages the provider shows: sign-in, sign-out and errors.

export function escapeHTML(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
  *,*::before,*::after{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
    font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
    background:#f3f4f6;color:#111827}
  main{width:100%;max-width:360px;margin:24px;padding:32px;background:#fff;border-radius:12px;
    box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06)}
  h1{margin:0 0 4px;font-size:1.4rem;font-weight:600}
  p{margin:0 0 20px;color:#4b5563;font-size:.95rem;line-height:1.4}
  label{display:block;margin:0 0 6px;font-size:.85rem;font-weight:500;color:#374151}
  input{display:block;width:100%;height:40px;margin:0 0 16px;padding:0 12px;font-size:1rem;
    border:1px solid #d1d5db;border-radius:8px;background:#fff;color:inherit}
  input:focus{outline:2px solid #2563eb;outline-offset:1px;border-color:#2563eb}
  button{display:block;width:100%;height:40px;margin:8px 0 0;font-size:.95rem;font-weight:600;
    border:0;border-radius:8px;cursor:pointer;color:#fff;background:#2563eb}
  button:hover{background:#1d4ed8}
  button.secondary{color:#374151;background:#e5e7eb}
  button.secondary:hover{background:#d1d5db}
  .error{margin:0 0 16px;padding:10px 12px;border-radius:8px;background:#fef2f2;color:#991b1b;font-size:.9rem}
  dl{margin:0;font-size:.9rem}
  dt{font-weight:600;margin-top:8px}
  dd{margin:2px 0 0;color:#4b5563;word-break:break-word}
  .muted{margin-top:20px;font-size:.8rem;color:#6b7280;text-align:center}
`;

export function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHTML(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export function loginPage({
  uid, clientName, username = '', error,
}) {
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return page('Sign in', `
<h1>Sign in</h1>
<p>to continue to <strong>${escapeHTML(clientName)}</strong></p>
${error ? `<div class="error" id="error" role="alert">${escapeHTML(error)}</div>` : ''}
<form id="login-form" method="post" action="${base}/login" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" value="${escapeHTML(username)}" required${username ? '' : ' autofocus'} autocapitalize="none" spellcheck="false">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required${username ? ' autofocus' : ''}>
  <button id="sign-in" type="submit">Sign in</button>
</form>
<form method="post" action="${base}/abort">
  <button id="cancel" class="secondary" type="submit">Cancel</button>
</form>
<div class="muted">Local test identity provider</div>`);
}

export function errorPage(out) {
  const rows = Object.entries(out)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<dt>${escapeHTML(key)}</dt><dd>${escapeHTML(value)}</dd>`)
    .join('');
  return page('Error', `<h1>Something went wrong</h1><dl id="error">${rows}</dl>`);
}

// logoutPage asks whether to end the session; form is oidc-provider's hidden
// logout form.
export function logoutPage(host, form) {
  return page('Sign out', `
<h1>Sign out</h1>
<p>Do you want to sign out of ${escapeHTML(host)}?</p>
${form}
<button id="sign-out" type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Sign out</button>
<button id="stay-signed-in" class="secondary" type="submit" form="op.logoutForm">Stay signed in</button>`);
}

export function signedOutPage() {
  return page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
}
