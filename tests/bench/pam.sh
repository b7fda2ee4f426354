#!/usr/bin/env bash
# Times a successful TOTP authentication through pam_stepgate.so next to Debian's
# pam_google_authenticator.so: each run is a whole `pamtester` process (start, libpam, module
# load, the check, exit), as a login sees it. pam_stepgate runs twice: in direct mode (its own
# database) and in remote mode (fleet mode: `url=`, `credential=`, `ca=`), asking a
# `stepgate serve` over HTTPS signed by a throw-away CA — a new process, so a new TLS
# connection, for every login. Part of tests/bench/run.sh, which passes RESULTS_DIR and
# reports the figures; alone it prints the medians.
#
#   sudo tests/bench/pam.sh        # RUNS=40 by default; RESULTS_DIR=DIR keeps pam.json and pam.txt
#
# Needs root (it writes three /etc/pam.d services, removed at exit), and the Debian packages
# pamtester, oathtool, libpam-google-authenticator and openssl (tests/bench/tls.sh).
#
# Each run uses another user, because both modules refuse a TOTP code the second time
# (Stepgate always; Google's with DISALLOW_REUSE, set here for a like-for-like comparison).
# Runs of the three alternate, so all see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-40}

[[ $(id -u) -eq 0 ]] || { echo "run as root (it writes /etc/pam.d services)" >&2; exit 1; }
GA_MODULE=$(ls /usr/lib/*/security/pam_google_authenticator.so /lib/*/security/pam_google_authenticator.so 2>/dev/null | head -n 1 || true)
missing=()
command -v pamtester >/dev/null || missing+=(pamtester)
command -v oathtool >/dev/null || missing+=(oathtool)
command -v openssl >/dev/null || missing+=(openssl)
[[ -n "$GA_MODULE" ]] || missing+=(libpam-google-authenticator)
if ((${#missing[@]})); then
  echo "missing: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "==> building the release module and CLI"
# The same packages as run.sh builds: another set unifies other crate features and relinks the
# fat-LTO binaries (minutes) although nothing changed.
cargo build --release --quiet -p stepgate-idp -p pam_stepgate -p stepgate-bench
TARGET=${CARGO_TARGET_DIR:-target}/release
SG_MODULE=$(realpath "$TARGET/libpam_stepgate.so")
STEPGATE=$(realpath "$TARGET/stepgate")

WORK=$(mktemp -d /tmp/stepgate-bench.XXXXXX)
SG_SERVICE="stepgate-bench-$$"
GA_SERVICE="google-bench-$$"
REMOTE_SERVICE="stepgate-remote-bench-$$"
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -f "/etc/pam.d/$SG_SERVICE" "/etc/pam.d/$GA_SERVICE" "/etc/pam.d/$REMOTE_SERVICE"
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Stepgate direct mode: SQLite next to the config, users enrolled with the admin CLI ------
cat >"$WORK/stepgate.toml" <<'EOF'
[database]
url = "sqlite://stepgate.db"
[twofa]
providers = ["TOTP", "BACKUP_CODE"]
EOF
chmod 0600 "$WORK/stepgate.toml"
echo "auth required $SG_MODULE config=$WORK/stepgate.toml" >"/etc/pam.d/$SG_SERVICE"

# --- Stepgate remote mode: a TLS server with a database of its own, one registered host ------
# (another database, so that the direct-mode row reads one that no server holds open)
mkdir -m 0700 "$WORK/remote"
tests/bench/tls.sh "$WORK/tls"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/remote/stepgate.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
issuer = "https://127.0.0.1:$PORT"
tls_cert = "$WORK/tls/server.pem"
tls_key = "$WORK/tls/server.key"
[database]
url = "sqlite://stepgate.db"
[twofa]
providers = ["TOTP", "BACKUP_CODE"]
EOF
chmod 0600 "$WORK/remote/stepgate.toml"
REMOTE=(--config "$WORK/remote/stepgate.toml")

# --- Google Authenticator: one secret file per user, read as root ---------------------------
mkdir -m 0700 "$WORK/ga"
echo "auth required $GA_MODULE secret=$WORK/ga/\${USER} user=root" >"/etc/pam.d/$GA_SERVICE"

secret_of() { sed -E 's/.*[?&]secret=([A-Z2-7]+).*/\1/' <<<"$1"; }
echo "==> enrolling $RUNS users in each"
declare -a SG_SECRETS GA_SECRETS RM_SECRETS
"$STEPGATE" "${REMOTE[@]}" group add bench >/dev/null
for i in $(seq 0 "$RUNS"); do
  "$STEPGATE" --config "$WORK/stepgate.toml" user add "bench$i" --email "bench$i@example.com" >/dev/null 2>&1
  SG_SECRETS[i]=$(secret_of "$("$STEPGATE" --config "$WORK/stepgate.toml" user enroll-totp "bench$i" --no-qr 2>/dev/null)")
  GA_SECRETS[i]=$(head -c 20 /dev/urandom | base32 | tr -d '=')
  printf '%s\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n' "${GA_SECRETS[i]}" >"$WORK/ga/bench$i"
  chmod 0600 "$WORK/ga/bench$i"
  "$STEPGATE" "${REMOTE[@]}" user add "bench$i" --email "bench$i@example.com" >/dev/null 2>&1
  RM_SECRETS[i]=$(secret_of "$("$STEPGATE" "${REMOTE[@]}" user enroll-totp "bench$i" --no-qr 2>/dev/null)")
  "$STEPGATE" "${REMOTE[@]}" group add-member bench "bench$i" >/dev/null
done
# The credential file as a host keeps it: root's, mode 0600 (the module refuses anything else).
(umask 077 && "$STEPGATE" "${REMOTE[@]}" host add bench-host --allow-group bench | tail -n 1 >"$WORK/remote/host.credential")
echo "auth required $SG_MODULE url=https://127.0.0.1:$PORT credential=$WORK/remote/host.credential ca=$WORK/tls/ca.pem timeout=5" >"/etc/pam.d/$REMOTE_SERVICE"
"$STEPGATE" "${REMOTE[@]}" serve >"$WORK/remote/serve.log" 2>&1 &
SERVER_PID=$!
ready() { curl -fsS --cacert "$WORK/tls/ca.pem" -o /dev/null "https://127.0.0.1:$PORT/readyz" 2>/dev/null; }
for _ in $(seq 1 400); do
  ready && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/remote/serve.log" >&2; echo "stepgate serve exited" >&2; exit 1; }
  sleep 0.05
done
ready || { echo "stepgate serve (TLS) was not ready in 20 s" >&2; exit 1; }

# One authentication; prints its wall time in microseconds, fails the script if refused.
auth_us() {
  local service=$1 user=$2 secret=$3 code t0 t1
  code=$(oathtool --totp -b "$secret")
  t0=$(date +%s%N)
  if ! pamtester "$service" "$user" authenticate <<<"$code" >/dev/null 2>&1; then
    echo "authentication of $user through $service failed" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

echo "==> timing"
# User 0 of each warms the page cache and is not counted.
auth_us "$SG_SERVICE" bench0 "${SG_SECRETS[0]}" >/dev/null
auth_us "$GA_SERVICE" bench0 "${GA_SECRETS[0]}" >/dev/null
auth_us "$REMOTE_SERVICE" bench0 "${RM_SECRETS[0]}" >/dev/null
: >"$WORK/sg.times"
: >"$WORK/ga.times"
: >"$WORK/rm.times"
for i in $(seq 1 "$RUNS"); do
  auth_us "$SG_SERVICE" "bench$i" "${SG_SECRETS[i]}" >>"$WORK/sg.times"
  auth_us "$GA_SERVICE" "bench$i" "${GA_SECRETS[i]}" >>"$WORK/ga.times"
  auth_us "$REMOTE_SERVICE" "bench$i" "${RM_SECRETS[i]}" >>"$WORK/rm.times"
done

# Not OUT_DIR: cargo reads that name from the environment into its fingerprints, and a new
# value every run would rebuild the crates that use it.
RESULTS_DIR=${RESULTS_DIR:-$WORK/out}
mkdir -p "$RESULTS_DIR"
paste -d' ' "$WORK/sg.times" "$WORK/ga.times" "$WORK/rm.times" |
  awk 'BEGIN { print "run stepgate_us google_us stepgate_remote_us" } { print NR, $0 }' >"$RESULTS_DIR/pam.txt"
/usr/bin/python3 - "$WORK/sg.times" "$WORK/ga.times" "$WORK/rm.times" "$RESULTS_DIR/pam.json" <<'PY'
import json, statistics, sys
sg, ga, rm = ([int(x) for x in open(f).read().split()] for f in sys.argv[1:4])
json.dump({"runs": len(sg), "stepgate_us": sg, "google_us": ga, "stepgate_remote_us": rm},
          open(sys.argv[4], "w"))
m = {k: statistics.median(v) / 1000 for k, v in (("sg", sg), ("ga", ga), ("rm", rm))}
print(f"==> median ms: pam_stepgate direct {m['sg']:.1f}, remote over TLS {m['rm']:.1f}, "
      f"pam_google_authenticator {m['ga']:.1f}; "
      f"ratios: direct {m['sg'] / m['ga']:.2f}, remote {m['rm'] / m['ga']:.2f}")
PY
