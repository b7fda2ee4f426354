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
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signing] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
