// The benchmark's peer: Node's oidc-provider (panva), the certified reference implementation,
// configured for the workloads of tests/bench/run.sh on 127.0.0.1:$PORT.
//
// Production settings from its documentation that apply on loopback: NODE_ENV=production
// (run.sh sets it), fixed signing keys and cookie keys, development interactions off.
// Storage is the default in-memory adapter. The documentation says to use a persistent
// adapter (Redis, a database) in production; that would only add work per token, so the
// in-memory adapter favours the peer. Node runs one thread: this is one process, as
// `node server.mjs` starts it.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 4000);
const issuer = `http://127.0.0.1:${port}`;

const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
Object.assign(signing, { alg: 'ES256', use: 'sig', kid: 'bench-es256' });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789abcdef',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
      // The only signing key is ES256; with the default RS256 the client fails validation.
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signing] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // 'api' must be a provider scope, or the client's `scope: 'api'` fails validation and every
  // request by it is answered invalid_client_metadata.
  // No resourceIndicators: without it a plain client_credentials request with scope=api
  // gets an opaque access token, stored in the adapter, which introspection looks up.
  scopes: ['openid', 'api'],
  // Set explicitly to keep the library's one-time "you SHOULD change it" notices off stdout:
  // the default 10-minute lifetime, and a policy that lets a client introspect its own tokens
  // (the default lets any confidential client introspect any token; here there is one client).
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
