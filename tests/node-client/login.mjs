// The authorization code flow with PKCE, done by Node's openid-client (an OpenID Certified
// relying party library), against a running Stepgate.
//
//   node login.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI [ID_TOKEN_ALG]
//
// CLIENT_SECRET `-` means a public client (token endpoint auth `none`, PKCE only);
// ID_TOKEN_ALG is how the client was registered (`--id-token-alg`), ES256 by default.
//
// 1. discovery; builds the authorization URL (PKCE S256, state, nonce) and prints
//    `authorization_url: URL` on stdout;
// 2. reads the URL the browser was sent back to (the callback, with code/state/iss) as one
//    line on stdin;
// 3. exchanges the code (client_secret_basic or none, + code_verifier), validates the ID token
//    (signature against the JWKS, iss, aud, exp, nonce, alg), calls userinfo, and prints
//    `result: JSON` with the ID token claims, the userinfo response and the token response's
//    shape.
//
// Any failure is printed to stderr and exits non-zero. The test in
// tests/tests/e2e/node_client.rs plays the browser.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

async function readLine() {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  throw new Error('stdin closed before the callback URL arrived');
}

async function main() {
  const [issuer, clientId, clientSecret, redirectUri, alg = 'ES256'] = process.argv.slice(2);
  if (!issuer || !clientId || !clientSecret || !redirectUri) {
    throw new Error(
      'usage: node login.mjs ISSUER CLIENT_ID CLIENT_SECRET|- REDIRECT_URI [ES256|RS256]',
    );
  }
  const isPublic = clientSecret === '-';
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    // Stepgate signs ID tokens ES256 unless the client was registered with RS256.
    { id_token_signed_response_alg: alg },
    isPublic ? client.None() : client.ClientSecretBasic(clientSecret),
    // The test serves on loopback http; openid-client insists on https unless told.
    { execute: [client.allowInsecureRequests] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  process.stdout.write(`authorization_url: ${url.href}\n`);

  const callback = new URL(await readLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) {
    throw new Error('the token response has no ID token');
  }
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const header = JSON.parse(
    Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8'),
  );
  const summary = {
    issuer: config.serverMetadata().issuer,
    id_token_alg: header.alg,
    token_type: tokens.token_type,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    scope: tokens.scope,
    claims,
    userinfo,
  };
  process.stdout.write(`result: ${JSON.stringify(summary)}\n`);
}

main().catch((e) => {
  const cause = e && e.cause ? ` (cause: ${JSON.stringify(e.cause)})` : '';
  process.stderr.write(`openid-client failed: ${e && e.stack ? e.stack : e}${cause}\n`);
  process.exit(1);
});
