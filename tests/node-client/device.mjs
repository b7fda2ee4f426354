// The device authorization grant (RFC 8628) done by Node's openid-client (an OpenID Certified
// relying party library) as the device, with the user's part done in Debian's Chromium through
// playwright-core, against a running Stepgate.
//
//   node device.mjs ISSUER CLIENT_ID USERNAME PASSWORD TOTP_SECRET
//
// The client is public (token endpoint auth `none`) and registered for the device code grant.
// Four flows, each printing one `NAME: JSON` line on stdout for
// tests/tests/e2e/device_node.rs to check:
//
// 1. `approve:` initiateDeviceAuthorization, then pollDeviceAuthorizationGrant. The first poll
//    is sent twice in a row (customFetch), so the first answer is `authorization_pending` and
//    the second `slow_down`: openid-client then waits 5 s more, as the server now expects.
//    Meanwhile Chromium opens verification_uri_complete, confirms the prefilled code, signs
//    in with the password and a TOTP code, reads the client and scopes shown, and approves
//    once the slow_down was heard; the next poll gets the tokens (ID token validated by the
//    library, then userinfo).
// 2. `deny:` a second authorization: the code typed (lower case, no dash) in the same browser,
//    whose sign-in is still fresh, goes straight to the approval; Deny; the poll ends with
//    `access_denied`.
// 3. `expiry:` a wrong code typed first (refused), then the right one (the approval shown and
//    left alone); prints `expiry_waiting:` and waits for a stdin line (the test moves the
//    server's clock past the lifetime); the poll ends with `expired_token`, and approving in
//    the browser afterwards is refused.
// 4. `guessing:` wrong codes until the page says there were too many; then even a live code
//    is refused unchecked.
//
// Every token endpoint answer is recorded (`polls`: ms since the flow started, status, error,
// error_description). Any failure goes to stderr and exits non-zero.
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const CHROMIUM = '/usr/bin/chromium';

// RFC 4648 base32 → bytes; RFC 6238 TOTP (SHA-1, 6 digits, 30 s) with node's crypto.
function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    bits += i.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

const stdin = createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
async function readLine() {
  const { value, done } = await stdin.next();
  if (done) throw new Error('stdin closed before the test answered');
  return value.trim();
}

function print(name, value) {
  process.stdout.write(`${name}: ${JSON.stringify(value)}\n`);
}

// Token endpoint answers of the current flow, and whether its next poll is sent twice.
let polls = [];
let flowStart = Date.now();
let doubleNextPoll = false;
function startFlow() {
  polls = [];
  flowStart = Date.now();
}

async function record(response) {
  const body = await response.clone().json().catch(() => ({}));
  polls.push({
    at_ms: Date.now() - flowStart,
    status: response.status,
    error: body.error ?? null,
    error_description: body.error_description ?? null,
  });
  return response;
}

function isDevicePoll(url, options) {
  return (
    new URL(url).pathname === '/token' &&
    String(options.body ?? '').includes('device_code')
  );
}

async function recordingFetch(url, options) {
  if (!isDevicePoll(url, options)) return fetch(url, options);
  if (doubleNextPoll) {
    doubleNextPoll = false;
    await record(await fetch(url, { ...options, body: String(options.body) }));
    return record(await fetch(url, { ...options, body: String(options.body) }));
  }
  return record(await fetch(url, options));
}

// The poll's outcome: tokens, or the OAuth error it ended with.
function outcome(promise) {
  return promise.then(
    (tokens) => ({ tokens }),
    (error) => {
      if (error instanceof client.ResponseBodyError) {
        return { error: error.error, error_description: error.error_description ?? null };
      }
      throw error;
    },
  );
}

async function waitFor(cond, what, ms = 30000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent({ timeout: 5000 })).trim();
}

async function enterCode(page, base, code) {
  await page.goto(`${base}/device`);
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForLoadState();
}

async function main() {
  const [issuer, clientId, username, password, totpSecret] = process.argv.slice(2);
  if (!issuer || !clientId || !username || !password || !totpSecret) {
    throw new Error('usage: node device.mjs ISSUER CLIENT_ID USERNAME PASSWORD TOTP_SECRET');
  }
  const base = issuer.replace(/\/$/, '');
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    {},
    client.None(),
    // The test serves on loopback http; openid-client insists on https unless told.
    { execute: [client.allowInsecureRequests] },
  );
  config[client.customFetch] = recordingFetch;
  assert(
    config.serverMetadata().device_authorization_endpoint === `${base}/device_authorization`,
    'discovery names the device authorization endpoint',
  );

  const profile = mkdtempSync(join(tmpdir(), 'stepgate-device-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();

    // 1. Pending, slow_down, approve, tokens.
    startFlow();
    const first = await client.initiateDeviceAuthorization(config, {
      scope: 'openid profile email',
    });
    doubleNextPoll = true;
    const approved = outcome(client.pollDeviceAuthorizationGrant(config, first));
    await page.goto(first.verification_uri_complete);
    const prefilled = await page.getByLabel('Code').inputValue();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#code').fill(totp(totpSecret));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.getByRole('heading', { name: 'Approve a device' }).waitFor({ timeout: 10000 });
    const approvalUrl = new URL(page.url()).pathname;
    const clientShown = await text(page, '#device-client-line');
    const scopesShown = await page
      .locator('#device-scopes li')
      .evaluateAll((items) => items.map((li) => li.dataset.scope));
    // Approve only once the device has heard pending and slow_down.
    await waitFor(() => polls.length >= 2, 'the first two polls');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.getByRole('heading', { name: 'Device approved' }).waitFor({ timeout: 10000 });
    const approvedMessage = await text(page, '[role=status]');
    const result = await approved;
    assert(result.tokens, `tokens, not ${JSON.stringify(result)}`);
    const claims = result.tokens.claims();
    assert(claims, 'the token response has an ID token');
    const userinfo = await client.fetchUserInfo(config, result.tokens.access_token, claims.sub);
    print('approve', {
      user_code: first.user_code,
      verification_uri: first.verification_uri,
      verification_uri_complete: first.verification_uri_complete,
      expires_in: first.expires_in,
      interval: first.interval,
      prefilled,
      approval_path: approvalUrl,
      client_shown: clientShown,
      scopes_shown: scopesShown,
      approved_message: approvedMessage,
      polls,
      token_scope: result.tokens.scope ?? null,
      token_type: result.tokens.token_type,
      has_refresh_token: Boolean(result.tokens.refresh_token),
      claims,
      userinfo,
    });

    // 2. Deny: the same browser's sign-in is fresh, so the code leads straight to the approval.
    startFlow();
    const second = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const denied = outcome(client.pollDeviceAuthorizationGrant(config, second));
    await enterCode(page, base, second.user_code.replace('-', '').toLowerCase());
    const denyPath = new URL(page.url()).pathname;
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await page.getByRole('heading', { name: 'Request denied' }).waitFor({ timeout: 10000 });
    const deniedMessage = await text(page, '[role=status]');
    const deniedResult = await denied;
    print('deny', {
      approval_path: denyPath,
      denied_message: deniedMessage,
      polls,
      ...deniedResult,
      tokens: undefined,
    });

    // 3. A wrong code, the right one, then expiry.
    startFlow();
    const third = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    // Not the live code (the alphabet has no vowels, so a different first letter suffices).
    const wrong = (third.user_code[0] === 'B' ? 'C' : 'B') + third.user_code.slice(1);
    await enterCode(page, base, wrong);
    const wrongMessage = await text(page, '#user-code-error');
    await enterCode(page, base, third.user_code);
    await page.getByRole('heading', { name: 'Approve a device' }).waitFor({ timeout: 10000 });
    print('expiry_waiting', { expires_in: third.expires_in });
    await readLine();
    const expired = await outcome(client.pollDeviceAuthorizationGrant(config, third));
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    const lateMessage = await text(page, '#user-code-error');
    print('expiry', {
      wrong_message: wrongMessage,
      late_approve_message: lateMessage,
      polls,
      ...expired,
      tokens: undefined,
    });

    // 4. Guessing: wrong codes until refused unchecked; then a live code is refused too.
    const messages = [];
    for (let i = 0; i < 10; i++) {
      const guess = `BCDF-GH${'JKLMNPQRST'[i]}${'VWXZ'[i % 4]}`;
      await enterCode(page, base, guess);
      const message = await text(page, '#user-code-error');
      messages.push(message);
      if (message.startsWith('Too many')) break;
    }
    const fourth = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    await enterCode(page, base, fourth.user_code);
    const liveMessage = await text(page, '#user-code-error');
    print('guessing', { messages, live_code_message: liveMessage });
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    if (e?.cause) process.stderr.write(`cause: ${JSON.stringify(e.cause)}\n`);
    process.exit(1);
  },
);
