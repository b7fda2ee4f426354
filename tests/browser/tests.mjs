// Stepgate in a real browser (Debian's Chromium through playwright-core). Started by run.sh,
// which serves Stepgate on STEPGATE_URL with a real SMTP sink writing to MAILDIR.
//
// Each test is what a person does on a new installation, whose default is that every user
// needs a second factor: sign in, be sent to set one up (no session before), enrol TOTP
// reading the secret from the page, sign out and in with a code; backup codes through "Try
// another way"; email enrolment with the code from the real mail; the first administrator
// enrols before reaching the console, changes the lockout limit, a user gets locked, the admin
// unlocks them. Screenshots of every page (desktop and phone widths) go to ARTIFACTS.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BASE = required("STEPGATE_URL");
const MAILDIR = required("MAILDIR");
const ARTIFACTS = required("ARTIFACTS");
const ADMIN_PASSWORD = required("ADMIN_PASSWORD");
const USER_PASSWORD = required("USER_PASSWORD");
const CAROL_URI = required("CAROL_URI");
const PAM_SERVICE = required("PAM_SERVICE");

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run tests/browser/run.sh)`);
  return v;
}

// RFC 4648 base32 → bytes; RFC 6238 TOTP (SHA-1, 6 digits, 30 s) with node's crypto.
function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    bits += i.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const o = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}
// A code from the next 30-second step (a TOTP code is accepted once per step).
async function freshTotp(secret, usedStep) {
  while (Math.floor(Date.now() / 30000) <= usedStep) await sleep(500);
  return { code: totp(secret), step: Math.floor(Date.now() / 30000) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(size);
}

/// Desktop and phone screenshots in the light and the dark theme (prefers-color-scheme).
async function shotThemes(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await shot(page, `${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

// axe-core's source, evaluated in the page through the DevTools protocol: the pages' CSP
// allows no inline or injected script tag, and this needs none. A missing axe-core is an
// error here, before any test runs (run.sh installs it with `npm ci`), never a skipped check.
const AXE_SOURCE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
// What fails a page; the lesser impacts are printed so they are seen, not hidden.
const BLOCKING = new Set(["serious", "critical"]);

/// axe's WCAG 2 A/AA violations on the page as it is, as readable lines with their impact.
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const ran = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({
        impact: v.impact,
        line: `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`,
      })),
    };
  }, WCAG_A_AA);
  // A run that checked nothing proves nothing (axe not loaded, an empty page).
  assert(ran.passes > 0, "axe ran no check at all");
  return ran.violations;
}

/// Any serious or critical WCAG A/AA violation (contrast among them) fails.
async function axeCheck(page, label) {
  const violations = await axeViolations(page);
  const blocking = violations.filter((v) => BLOCKING.has(v.impact));
  for (const v of violations.filter((v) => !BLOCKING.has(v.impact))) console.log(`  # ${label}: ${v.line}`);
  assert(blocking.length === 0, `${label}: ${blocking.length} serious or critical WCAG violation(s):\n    ${blocking.map((v) => v.line).join("\n    ")}`);
}

/// The page in the light and dark themes, at desktop width and at 320 px (where nothing may
/// scroll sideways): axe finds no WCAG A/AA violation in any of them.
async function accessible(page, label) {
  const size = page.viewportSize();
  for (const width of [size.width, 320]) {
    await page.setViewportSize({ width, height: 800 });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await axeCheck(page, `${label} (${scheme}, ${width} px)`);
      if (width === 320) {
        const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert(scroll <= client, `${label} (${scheme}): ${scroll} px wide at 320 px: it scrolls sideways`);
      }
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(size);
}

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 5000 });
}

async function signIn(page, username, password) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signOut(page) {
  await page.goto(`${BASE}/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectText(page, "signed out");
}

/// The newest message to `to` in the SMTP sink's maildir, waiting up to 10 s.
async function mailTo(to, seen) {
  for (let i = 0; i < 100; i++) {
    const files = readdirSync(MAILDIR).filter((f) => f.endsWith(".eml")).sort((a, b) => parseInt(a) - parseInt(b));
    const mine = files.map((f) => readFileSync(join(MAILDIR, f), "latin1")).filter((m) => m.includes(to));
    if (mine.length > seen) return mine[mine.length - 1];
    await sleep(100);
  }
  throw new Error(`no mail to ${to}`);
}

const state = {};

/// Signs in as someone without a factor: the secure default sends them to set one up, and
/// no session exists until they have.
async function signInToEnrolment(page, username, password) {
  await signIn(page, username, password);
  await expectText(page, "Set up two-factor authentication");
  const home = await page.context().newPage();
  await home.goto(`${BASE}/`);
  await expectText(home, "You are not signed in");
  await home.close();
}

/// A virtual authenticator (Chrome DevTools Protocol) in this page: a platform passkey with
/// resident keys and user verification, as a phone or laptop has.
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/// pamtester through the module in remote mode (the service run.sh wrote): its stderr (where
/// prompts go) as it grows, a way to answer, and its exit.
function pamtester(user) {
  const child = spawn("pamtester", [PAM_SERVICE, user, "authenticate"], { stdio: ["pipe", "pipe", "pipe"] });
  const out = { stderr: "", stdout: "" };
  child.stderr.on("data", (d) => { out.stderr += d; });
  child.stdout.on("data", (d) => { out.stdout += d; });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    out,
    exited,
    async expect(text, from = 0) {
      for (let i = 0; i < 200; i++) {
        const at = out.stderr.indexOf(text, from);
        if (at >= 0) return at + text.length;
        await sleep(50);
      }
      child.kill();
      throw new Error(`pamtester never asked ${JSON.stringify(text)}: ${out.stderr}`);
    },
    answer(text) { child.stdin.write(`${text}\n`); },
    kill() { child.kill(); },
  };
}

/// Captures the body of the next form post to `path`.
function capturePost(page, path) {
  return new Promise((resolve) => {
    const listener = (req) => {
      if (req.method() === "POST" && new URL(req.url()).pathname === path) {
        page.off("request", listener);
        resolve(req.postData());
      }
    };
    page.on("request", listener);
  });
}

const tests = [
  ["a new user must enrol TOTP first, signs out and signs in with TOTP", async (page) => {
    await signInToEnrolment(page, "alice", USER_PASSWORD);
    await shot(page, "01-forced-enrolment");
    await page.goto(`${BASE}/admin`);
    assert(!(await page.content()).includes("Save settings"), "no console in the enrolment state");
    await page.goto(`${BASE}/account/security`);
    await expectText(page, "Two-factor methods");
    await shot(page, "02-account-security");
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    assert(/^[A-Z2-7]{16,}$/.test(secret), `a base32 secret on the page: ${secret}`);
    assert(await page.locator(".qr svg").count() === 1, "a QR code");
    await shot(page, "03-totp-enrolment");
    // A wrong code first: the message is tied to the field.
    await page.getByLabel("6-digit code from the app").fill("000000");
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "not right");
    const described = await page.getByLabel("6-digit code from the app").getAttribute("aria-describedby");
    assert(described === "totp-code-error", `aria-describedby: ${described}`);
    await shot(page, "04-totp-wrong-code");
    const step = Math.floor(Date.now() / 30000);
    await page.getByLabel("6-digit code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "You are signed in as");
    await shot(page, "05-signed-in-after-enrolment");
    await page.goto(`${BASE}/account/security`);
    assert((await page.locator("#provider-TOTP .toggle").textContent()).trim() === "On", "TOTP on");
    await signOut(page);
    await signIn(page, "alice", USER_PASSWORD);
    await expectText(page, "Verify it's you");
    await shot(page, "06-second-factor");
    const fresh = await freshTotp(secret, step);
    await page.getByLabel("authenticator app").fill(fresh.code);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    state.aliceSecret = secret;
    state.aliceStep = fresh.step;
  }],

  ["backup codes are shown once and sign in through Try another way", async (page) => {
    assert(state.aliceSecret, "needs the TOTP test first");
    await signIn(page, "alice", USER_PASSWORD);
    const { code } = await freshTotp(state.aliceSecret, state.aliceStep);
    state.aliceStep = Math.floor(Date.now() / 30000);
    await page.getByLabel("authenticator app").fill(code);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.goto(`${BASE}/account/security`);
    await page.getByRole("button", { name: "Generate backup codes" }).click();
    await expectText(page, "Your backup codes");
    const codes = (await page.locator(".backup-list code").allTextContents()).map((c) => c.trim());
    assert(codes.length === 10 && codes.every((c) => /^\d{8}$/.test(c)), `codes: ${codes}`);
    const href = await page.getByRole("link", { name: "Download (.txt)" }).getAttribute("href");
    assert(href.startsWith("data:text/plain") && href.includes(codes[0]), "a .txt download");
    assert(await page.getByRole("button", { name: "Print" }).isVisible(), "a Print button");
    await shot(page, "07-backup-codes");
    await page.goto(`${BASE}/account/security`);
    assert(!(await page.content()).includes(codes[0]), "shown once");
    await signOut(page);
    await signIn(page, "alice", USER_PASSWORD);
    await expectText(page, "Try another way");
    await page.getByRole("link", { name: "Use a backup code" }).click();
    await page.getByLabel("backup codes").fill(codes[3]);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    assert((await page.locator("#backup-left").textContent()).includes("9 backup codes left"), "one used");
    await shot(page, "08-account-after-backup-code");
  }],

  ["email is enrolled with the code from the real SMTP server", async (page) => {
    await signInToEnrolment(page, "bob", USER_PASSWORD);
    await page.getByLabel("Email address").fill("not-an-address");
    // The browser's own check would stop an invalid type=email; the server's is what counts.
    await page.locator("#email").evaluate((e) => { e.type = "text"; });
    await page.getByRole("button", { name: "Send a code" }).last().click();
    await page.locator("#email-error").waitFor();
    await shot(page, "09-email-invalid");
    await page.getByLabel("Email address").fill("bob.home@example.org");
    await page.locator("form[action='/account/security/email'] button").click();
    await expectText(page, "We sent a 6-digit code to");
    const mail = await mailTo("bob.home@example.org", 0);
    const code = mail.match(/\b(\d{6})\b/)[1];
    await page.locator("#email-code").fill(code);
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    assert((await page.locator("#provider-EMAIL .toggle").textContent()).trim() === "On", "EMAIL on");
    await shot(page, "10-email-enabled");
  }],

  ["the first administrator enrols a second factor before reaching the console", async (page) => {
    await signInToEnrolment(page, "admin", ADMIN_PASSWORD);
    await shot(page, "11-admin-forced-enrolment");
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    const step = Math.floor(Date.now() / 30000);
    await page.getByLabel("6-digit code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/admin`);
    await page.getByRole("button", { name: "Save settings" }).waitFor({ timeout: 5000 });
    state.adminSecret = secret;
    state.adminStep = step;
  }],

  ["an admin lowers the lockout limit, a user gets locked, the admin unlocks them", async (page) => {
    assert(state.adminSecret, "needs the admin enrolment test first");
    await signIn(page, "admin", ADMIN_PASSWORD);
    const { code, step } = await freshTotp(state.adminSecret, state.adminStep);
    state.adminStep = step;
    await page.getByLabel("authenticator app").fill(code);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/admin`);
    await shot(page, "11-admin-settings");
    // Human labels, a line of help, the ThingsBoard key in small print; providers by name.
    await page.getByRole("group", { name: "Authenticator app" }).waitFor({ timeout: 5000 });
    for (const key of ["minVerificationCodeSendPeriod", "verificationCodeCheckRateLimit", "enforceTwoFa", "BACKUP_CODE"]) {
      assert(await page.locator("code.key", { hasText: key }).count() >= 1, `the key ${key} in small print`);
    }
    assert(await page.getByLabel("Minimum time between code sends").count() === 1, "a human label");
    const help = await page.getByLabel("Failed attempts before lockout").getAttribute("aria-describedby");
    assert(help.includes("maxVerificationFailuresBeforeUserLockout-help"), `the help line describes the field: ${help}`);
    await page.getByLabel("Failed attempts before lockout").fill("2");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expectText(page, "Settings saved.");
    // An invalid value is shown at its field and changes nothing.
    await page.getByLabel("Time allowed for verification").fill("5");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#totalAllowedTimeForVerification-error").waitFor();
    await shot(page, "12-admin-settings-invalid");
    await page.goto(`${BASE}/admin`);
    assert(await page.getByLabel("Failed attempts before lockout").inputValue() === "2", "saved");
    assert(await page.getByLabel("Time allowed for verification").inputValue() !== "5", "unchanged");
    // Carol guesses wrong twice.
    const carolBrowser = await newBrowser();
    const carol = await carolBrowser.newPage();
    await signIn(carol, "carol", USER_PASSWORD);
    for (let i = 0; i < 2; i++) {
      await carol.getByLabel("authenticator app").fill("000000");
      await carol.getByRole("button", { name: "Verify" }).click();
    }
    await expectText(carol, "locked");
    await shot(carol, "13-user-locked");
    await page.goto(`${BASE}/admin/users?q=carol`);
    await shot(page, "14-admin-users");
    await page.getByRole("link", { name: "carol" }).click();
    assert((await page.locator("#state").textContent()).startsWith("locked"), "locked");
    await shot(page, "15-admin-user-locked");
    await page.getByRole("button", { name: "Unlock" }).click();
    await expectText(page, "The user is unlocked.");
    assert((await page.locator("#state").textContent()).trim() === "active", "active again");
    // Carol signs in.
    const secret = new URL(CAROL_URI).searchParams.get("secret");
    await signIn(carol, "carol", USER_PASSWORD);
    await carol.getByLabel("authenticator app").fill(totp(secret));
    await carol.getByRole("button", { name: "Verify" }).click();
    await expectText(carol, "You are signed in as");
    await carolBrowser.close();
    for (const [path, name, heading] of [
      ["/admin/clients", "16-admin-clients", "OpenID Connect clients"],
      ["/admin/audit", "17-admin-audit", "Audit log"],
      ["/api/docs", "18-api-docs", "Stepgate API"],
    ]) {
      await page.goto(`${BASE}${path}`);
      await page.getByRole("heading", { name: heading }).first().waitFor({ timeout: 5000 });
      await shot(page, name);
    }
  }],

  ["passkeys: enrol after TOTP, sign in with password + passkey, passwordless, try another way, replay refused, remove", async (page) => {
    const { cdp, authenticatorId } = await virtualAuthenticator(page);
    // Dave must enrol: TOTP first (the fresh second-factor proof), then a passkey.
    await signInToEnrolment(page, "dave", USER_PASSWORD);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    let step = Math.floor(Date.now() / 30000);
    await page.getByLabel("6-digit code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    await page.getByLabel("Name of the new passkey").fill("laptop");
    await shot(page, "20-passkey-add");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await expectText(page, "Your passkey is added.");
    assert((await page.locator("#provider-WEBAUTHN .toggle").textContent()).trim() === "On", "WEBAUTHN on");
    assert((await page.locator(".passkey-name").first().textContent()).trim() === "laptop", "named laptop");
    await expectText(page, "signs in without a password");
    await shot(page, "21-passkey-listed");
    // Rename it.
    await page.locator("#passkey-list summary", { hasText: "Rename" }).first().click();
    await page.getByLabel("New name").fill("YubiKey 5");
    await page.getByRole("button", { name: "Rename", exact: true }).click();
    await expectText(page, "Your passkey is renamed.");
    assert((await page.locator(".passkey-name").first().textContent()).trim() === "YubiKey 5", "renamed");
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert(credentials.length === 1 && credentials[0].isResidentCredential, "one resident credential");
    await signOut(page);

    // Password, then the passkey asks first.
    await signIn(page, "dave", USER_PASSWORD);
    await page.getByRole("button", { name: "Use your passkey" }).waitFor({ timeout: 5000 });
    await shot(page, "22-passkey-second-factor");
    const captured = capturePost(page, "/login/2fa/passkey");
    await page.getByRole("button", { name: "Use your passkey" }).click();
    await expectText(page, "You are signed in as");
    const replay = await captured;
    assert(replay && replay.includes("credential="), "the assertion was posted");
    await signOut(page);

    // The same assertion again, in a new sign-in: refused (its request was single use).
    await signIn(page, "dave", USER_PASSWORD);
    await page.getByRole("button", { name: "Use your passkey" }).waitFor({ timeout: 5000 });
    const replayed = await page.request.post(`${BASE}/login/2fa/passkey`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      data: replay,
    });
    const replayedText = await replayed.text();
    assert(replayedText.includes("That passkey was not accepted"), "a replayed assertion is refused");
    assert(!replayedText.includes("You are signed in as"), "no session from a replay");

    // Try another way: from the passkey to the authenticator app.
    await page.goto(`${BASE}/login/2fa`);
    await page.getByRole("link", { name: "Use your authenticator app" }).click();
    const fresh = await freshTotp(secret, step);
    step = fresh.step;
    await page.getByLabel("authenticator app").fill(fresh.code);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    await signOut(page);

    // Passwordless with the resident key: no username, no password.
    await page.goto(`${BASE}/login`);
    await shot(page, "23-login-with-passkey");
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await expectText(page, "You are signed in as");
    await shot(page, "24-signed-in-passwordless");
    await signOut(page);

    // Another authenticator, whose passkey for this site Stepgate never registered.
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
    const other = await virtualAuthenticator(page);
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    await other.cdp.send("WebAuthn.addCredential", {
      authenticatorId: other.authenticatorId,
      credential: {
        credentialId: randomBytes(16).toString("base64"),
        isResidentCredential: true,
        rpId: new URL(BASE).hostname,
        privateKey: key.export({ type: "pkcs8", format: "der" }).toString("base64"),
        userHandle: randomBytes(16).toString("base64"),
        signCount: 0,
      },
    });
    await page.goto(`${BASE}/login`);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await expectText(page, "That passkey was not accepted");
    await shot(page, "25-unregistered-passkey-refused");
    await other.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: other.authenticatorId });

    // Remove it (fresh sign-in with the app, and the password again).
    await signIn(page, "dave", USER_PASSWORD);
    await page.getByRole("link", { name: "Use your authenticator app" }).click();
    const again = await freshTotp(secret, step);
    await page.getByLabel("authenticator app").fill(again.code);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    await page.locator("#passkey-list summary", { hasText: "Remove" }).first().click();
    await page.locator("#passkey-list input[type=password]").first().fill(USER_PASSWORD);
    await page.getByRole("button", { name: "Remove YubiKey 5" }).click();
    await expectText(page, "The passkey is removed.");
    assert((await page.locator("#provider-WEBAUTHN .toggle").textContent()).trim() === "Off", "WEBAUTHN off");
    await shot(page, "26-passkey-removed");
  }],

  ["approve in the browser: a PAM login at a host, approved with a passkey on /device", async (page) => {
    const { authenticatorId, cdp } = await virtualAuthenticator(page);
    // Erin: the authenticator app first (the fresh proof), then a passkey.
    await signInToEnrolment(page, "erin", USER_PASSWORD);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    await page.getByLabel("6-digit code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Verify and turn on" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    await page.getByLabel("Name of the new passkey").fill("phone");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await expectText(page, "Your passkey is added.");
    await signOut(page);

    // At the host: Enter at the code prompt, the menu's last entry, and the code is shown.
    const pam = pamtester("erin");
    try {
      let at = await pam.expect("Verification code (authenticator app): ");
      pam.answer("");
      at = await pam.expect("Choose 1-2: ", at);
      pam.answer("2");
      at = await pam.expect("Press Enter to wait for your approval: ", at);
      const shown = pam.out.stderr;
      const m = shown.match(/open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})/);
      assert(m, `the terminal shows the page and a code: ${shown}`);
      assert(m[1] === `${BASE}/device`, `the approval page is ${BASE}/device: ${m[1]}`);
      writeFileSync(join(ARTIFACTS, "30-terminal-approval-prompt.txt"), shown);
      pam.answer("");

      // In the browser: the code, then password + passkey, then the approval page.
      await page.goto(`${BASE}/device`);
      await page.getByLabel("Code").fill(m[2]);
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByLabel("Username").fill("erin");
      await page.getByLabel("Password").fill(USER_PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("button", { name: "Use your passkey" }).click();
      await expectText(page, "Approve a login");
      assert((await page.locator("[data-field=host]").textContent()).trim() === "browser-host", "the host is named");
      assert((await page.locator("[data-field=service]").textContent()).trim() === PAM_SERVICE, "the service is named");
      await shot(page, "31-approve-login");
      await accessible(page, "the login approval page");
      await page.getByRole("button", { name: "Approve" }).click();
      await expectText(page, "Login approved");
      await shot(page, "32-login-approved");
      const code = await Promise.race([pam.exited, sleep(15000).then(() => "timeout")]);
      assert(code === 0, `pamtester succeeds after the approval (exit ${code}): ${pam.out.stderr} ${pam.out.stdout}`);
      assert(pam.out.stdout.includes("successfully authenticated"), `pamtester: ${pam.out.stdout}`);
    } finally {
      pam.kill();
      await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
    }
  }],

  ["the accessibility check fails a page with serious violations", async (page) => {
    // The check must be able to fail: a page with an unlabelled field, an image without text
    // and grey-on-grey text is refused by the same function the real pages go through.
    await page.setContent(`<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
      <p style="color:#bbb;background:#ccc">too faint</p><input type="text"><img src="data:,">
      </main></body></html>`);
    let refused = null;
    try {
      await axeCheck(page, "broken page");
    } catch (e) {
      refused = String(e.message);
    }
    assert(refused, "axeCheck passed a broken page");
    for (const rule of ["color-contrast", "label", "image-alt"]) {
      assert(refused.includes(rule), `the broken page's ${rule} violation is reported: ${refused}`);
    }
  }],

  ["sign-in, second-factor, account and admin settings pages pass axe (WCAG A/AA) in light, dark and at 320 px", async (page) => {
    assert(state.adminSecret, "needs the admin enrolment test first");
    await page.goto(`${BASE}/login`);
    await accessible(page, "sign-in");
    await shotThemes(page, "40-sign-in");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expectText(page, "Verify it's you");
    await accessible(page, "second factor");
    await shotThemes(page, "41-second-factor");
    const { code, step } = await freshTotp(state.adminSecret, state.adminStep);
    state.adminStep = step;
    await page.getByLabel("authenticator app").fill(code);
    await page.getByRole("button", { name: "Verify" }).click();
    await expectText(page, "You are signed in as");
    await page.goto(`${BASE}/account/security`);
    await expectText(page, "Two-factor methods");
    // Providers named as people say them, on the user's pages too.
    for (const name of ["Authenticator app", "SMS", "Email", "Passkey", "Backup codes"]) {
      assert(await page.locator(".provider-head strong", { hasText: name }).count() === 1, `the account page names ${name}`);
    }
    await accessible(page, "account security");
    await shotThemes(page, "42-account-security");
    await page.goto(`${BASE}/admin`);
    await page.getByRole("button", { name: "Save settings" }).waitFor({ timeout: 5000 });
    await accessible(page, "admin settings");
    await shotThemes(page, "43-admin-settings");
    // The dark theme is a real one: the page background turns dark.
    await page.emulateMedia({ colorScheme: "dark" });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert(r + g + b < 150, `a dark background in the dark theme: ${bg}`);
    await page.emulateMedia({ colorScheme: "light" });
  }],

  ["a second language: ui_locales on /authorize and Accept-Language choose German", async (page) => {
    const authorize = (extra) => `${BASE}/authorize?` + new URLSearchParams({
      client_id: "webapp", redirect_uri: `${BASE}/cb-test`, response_type: "code", scope: "openid",
      state: "s", ...extra,
    });
    // The browser asks for English; the application's ui_locales (first supported wins) for German.
    await page.setExtraHTTPHeaders({ "Accept-Language": "en-US,en;q=0.9" });
    await page.goto(authorize({ ui_locales: "fr-CA de en" }));
    await page.getByRole("heading", { name: "Anmelden" }).waitFor({ timeout: 5000 });
    assert(await page.locator("html").getAttribute("lang") === "de", "<html lang=de>");
    await expectText(page, "Web App");
    await shotThemes(page, "44-sign-in-de");
    // It carries through the login pages of that authorization.
    await page.getByLabel("Benutzername").fill("alice");
    await page.getByLabel("Passwort").fill(USER_PASSWORD);
    await page.getByRole("button", { name: "Anmelden", exact: true }).click();
    await page.getByRole("heading", { name: "Bestätigen Sie, dass Sie es sind" }).waitFor({ timeout: 5000 });
    assert(await page.locator("html").getAttribute("lang") === "de", "the second-factor page too");
    await page.getByLabel("Authenticator-App").waitFor({ timeout: 5000 });
    await shotThemes(page, "45-second-factor-de");
    // Without ui_locales the browser's Accept-Language counts, by its q-values.
    await page.context().clearCookies();
    await page.setExtraHTTPHeaders({ "Accept-Language": "fr;q=0.9, de;q=0.8, en;q=0.5" });
    await page.goto(`${BASE}/login`);
    await page.getByRole("heading", { name: "Anmelden" }).waitFor({ timeout: 5000 });
    await page.setExtraHTTPHeaders({ "Accept-Language": "de;q=0.4, en;q=0.6" });
    await page.goto(`${BASE}/login`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: 5000 });
    assert(await page.locator("html").getAttribute("lang") === "en", "<html lang=en>");
    // A language the catalogue lacks is English.
    await page.setExtraHTTPHeaders({ "Accept-Language": "ja" });
    await page.goto(authorize({ ui_locales: "ja" }));
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: 5000 });
  }],
];

const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const profiles = [];

/// A browser of its own (a fresh --user-data-dir, so its own cookies): one per person.
async function newBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "stepgate-chromium-"));
  profiles.push(profile);
  return chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

const browser = await newBrowser();
let passed = 0;
let failed = 0;
const only = process.env.BROWSER_ONLY;
for (const [name, test] of tests) {
  if (only && !name.includes(only)) continue;
  const page = await browser.newPage();
  await browser.clearCookies();
  try {
    await test(page);
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split("\n").join("\n  ")}`);
    const safe = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
    await page.screenshot({ path: join(ARTIFACTS, `FAILED-${safe}.png`), fullPage: true }).catch(() => {});
  } finally {
    await page.close();
  }
}
await browser.close();
for (const p of profiles) rmSync(p, { recursive: true, force: true });
const summary = `${passed} passed, ${failed} failed`;
if (process.env.SUMMARY_FILE) writeFileSync(process.env.SUMMARY_FILE, summary + "\n");
console.log(summary);
process.exit(failed === 0 ? 0 : 1);
