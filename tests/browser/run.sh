#!/bin/sh
# Stepgate's browser tests: Debian's Chromium driven by Playwright (playwright-core, no browser
# download) against the real `stepgate serve` binary, a real SMTP server (tests/support/
# smtp_sink.py) and the SMS file sink. Screenshots go to target/browser-artifacts/; axe-core
# checks the pages for WCAG A/AA violations.
#
# Needs: target/debug/stepgate (cargo build -p stepgate-idp), node 20 + npm, /usr/bin/chromium
# (apt-get install chromium) and /usr/bin/python3 with python3-aiosmtpd. Prints
# "N passed, M failed" last and exits non-zero on any failure (a missing prerequisite is a
# failure, never a skip).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${STEPGATE_BIN:-$ROOT/target/debug/stepgate}
ARTIFACTS=${BROWSER_ARTIFACTS:-$ROOT/target/browser-artifacts}

fail() {
    echo "browser tests: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}
[ -x "$BIN" ] || fail "$BIN is missing: run cargo build -p stepgate-idp first"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: apt-get install chromium"
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing"
command -v node >/dev/null || fail "node is missing"
command -v pamtester >/dev/null || fail "pamtester is missing: apt-get install pamtester"
[ "$(id -u)" = 0 ] || fail "run as root: the approval test writes a service to /etc/pam.d"
# The PAM module cargo built (tests build it into deps/, `cargo build -p pam_stepgate` one up).
MODULE=${STEPGATE_PAM_MODULE:-$(ls -t "$ROOT/target/debug/deps/libpam_stepgate.so" \
    "$ROOT/target/debug/libpam_stepgate.so" 2>/dev/null | head -n 1)}
[ -f "$MODULE" ] || fail "libpam_stepgate.so is missing: run cargo build -p pam_stepgate first"

cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error >/dev/null || fail "npm ci failed"

WORK=$(mktemp -d)
PIDS=""
PAM_SERVICE="stepgate-browser-$$"
cleanup() {
    rm -f "/etc/pam.d/$PAM_SERVICE"
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
SMTP_PORT=$(free_port)
# localhost, not 127.0.0.1: WebAuthn's relying-party id must be a domain name, and localhost
# is a secure context over plain HTTP.
BASE="http://localhost:$PORT"
mkdir -p "$WORK/mail" "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png

/usr/bin/python3 "$ROOT/tests/support/smtp_sink.py" --port "$SMTP_PORT" --maildir "$WORK/mail" \
    >"$WORK/smtp.out" 2>"$WORK/smtp.err" &
PIDS="$PIDS $!"
i=0
until grep -q READY "$WORK/smtp.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$WORK/smtp.err" >&2; fail "the SMTP sink did not start"; }
    sleep 0.1
done

cat >"$WORK/stepgate.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
issuer = "$BASE"
[database]
url = "sqlite://$WORK/stepgate.db"
[secrets]
key_file = "$WORK/secrets.key"
[password]
memory_kib = 1024
iterations = 1
parallelism = 1
[sms]
kind = "file"
path = "$WORK/sms.log"
[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
tls = "none"
from = "Stepgate <noreply@example.com>"
timeout_seconds = 5
[twofa]
providers = ["TOTP", "SMS", "EMAIL", "WEBAUTHN", "BACKUP_CODE"]
TOML

ADMIN_PASSWORD="admin password for browser tests"
USER_PASSWORD="user password for browser tests"
export STEPGATE_CONFIG="$WORK/stepgate.toml"
STEPGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$BIN" serve >"$WORK/serve.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until /usr/bin/python3 -c "import urllib.request,sys; urllib.request.urlopen('$BASE/readyz', timeout=1)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat "$WORK/serve.log" >&2; fail "stepgate serve did not become ready"; }
    sleep 0.1
done

for u in alice bob carol dave erin; do
    printf '%s\n' "$USER_PASSWORD" | "$BIN" user add "$u" --email "$u@example.com" --password-stdin >/dev/null \
        || fail "could not create $u"
done
CAROL_URI=$("$BIN" user enroll-totp carol --no-qr | tail -n 1)
# An application for the /authorize tests (ui_locales); its redirect is never followed.
"$BIN" client add webapp --name "Web App" --redirect-uri "$BASE/cb-test" >/dev/null \
    || fail "could not register the webapp client"

# A registered host for the approval test: its credential in a root-only file, and a PAM
# service loading the module in remote mode (plain HTTP is allowed to a loopback address).
"$BIN" group add ops >/dev/null || fail "could not add the group ops"
"$BIN" group add-member ops erin >/dev/null || fail "could not add erin to ops"
(umask 077 && "$BIN" host add browser-host --allow-group ops | tail -n 1 >"$WORK/host.credential") \
    || fail "could not register the host"
REMOTE="url=http://127.0.0.1:$PORT credential=$WORK/host.credential timeout=5"
printf 'auth required %s %s\naccount required %s %s\n' "$MODULE" "$REMOTE" "$MODULE" "$REMOTE" \
    >"/etc/pam.d/$PAM_SERVICE"

set +e
BROWSER_ONLY="${BROWSER_ONLY:-}" STEPGATE_URL="$BASE" MAILDIR="$WORK/mail" ARTIFACTS="$ARTIFACTS" \
    ADMIN_PASSWORD="$ADMIN_PASSWORD" USER_PASSWORD="$USER_PASSWORD" CAROL_URI="$CAROL_URI" \
    PAM_SERVICE="$PAM_SERVICE" \
    SUMMARY_FILE="$WORK/summary" node "$HERE/tests.mjs"
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "--- stepgate serve log (last 40 lines) ---" >&2
    tail -n 40 "$WORK/serve.log" >&2
    # The summary stays the last line printed.
    cat "$WORK/summary" 2>/dev/null || echo "0 passed, 1 failed"
fi
exit $rc
