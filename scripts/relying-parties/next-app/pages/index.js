import { logtoClient } from '../libraries/logto';

// The home page: a sign-in link, or who is signed in (the ID token's claims
// and the userinfo endpoint's answer) with a sign-out link.
export default function Home({ user }) {
  if (!user.isAuthenticated) {
    return (
      <main>
        <h1>Next.js app</h1>
        <p id="status">Signed out</p>
        <a id="sign-in" href="/api/logto/sign-in">Sign in</a>
      </main>
    );
  }
  return (
    <main>
      <h1>Next.js app</h1>
      <p id="status">Signed in as {user.claims.name ?? user.claims.sub}</p>
      <h2>ID token claims</h2>
      <pre id="claims">{JSON.stringify(user.claims, null, 2)}</pre>
      <h2>Userinfo</h2>
      <pre id="userinfo">{JSON.stringify(user.userInfo ?? null, null, 2)}</pre>
      <a id="sign-out" href="/api/logto/sign-out">Sign out</a>
    </main>
  );
}

export async function getServerSideProps(context) {
  return logtoClient().withLogtoSsr(
    async ({ req }) => ({ props: { user: JSON.parse(JSON.stringify(req.user)) } }),
    { fetchUserInfo: true },
  )(context);
}
