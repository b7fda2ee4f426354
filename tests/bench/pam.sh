#!/usr/bin/env bash
# Times a successful TOTP authentication through pam_stepgate.so next to Debian's
# pam_google_authenticator.so: each run is a whole `pamtester` process (start, libpam, module
# load, the check, exit), as a login sees it. Part of tests/bench/run.sh, which passes RESULTS_DIR
# and reports the figures; alone it prints the medians.
#
#   sudo tests/bench/pam.sh        # RUNS=40 by default; RESULTS_DIR=DIR keeps pam.json and pam.txt
#
# Needs root (it writes two /etc/pam.d services, removed at exit), and the Debian packages
# pamtester, oathtool and libpam-google-authenticator.
#
# Each run uses another user, because both modules refuse a TOTP code the second time
# (Stepgate always; Google's with DISALLOW_REUSE, set here for a like-for-like comparison).
# Runs of the two modules alternate, so both see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-40}

[[ $(id -u) -eq 0 ]] || { echo "run as root (it writes /etc/pam.d services)" >&2; exit 1; }
GA_MODULE=$(ls /usr/lib/*/security/pam_google_authenticator.so /lib/*/security/pam_google_authenticator.so 2>/dev/null | head -n 1 || true)
missing=()
command -v pamtester >/dev/null || missing+=(pamtester)
command -v oathtool >/dev/null || missing+=(oathtool)
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
cleanup() { rm -f "/etc/pam.d/$SG_SERVICE" "/etc/pam.d/$GA_SERVICE"; rm -rf "$WORK"; }
trap cleanup EXIT

# --- Stepgate: SQLite next to the config, users enrolled with the admin CLI -----------------
cat >"$WORK/stepgate.toml" <<'EOF'
[database]
url = "sqlite://stepgate.db"
[twofa]
providers = ["TOTP", "BACKUP_CODE"]
EOF
chmod 0600 "$WORK/stepgate.toml"
echo "auth required $SG_MODULE config=$WORK/stepgate.toml" >"/etc/pam.d/$SG_SERVICE"

# --- Google Authenticator: one secret file per user, read as root ---------------------------
mkdir -m 0700 "$WORK/ga"
echo "auth required $GA_MODULE secret=$WORK/ga/\${USER} user=root" >"/etc/pam.d/$GA_SERVICE"

echo "==> enrolling $RUNS users in each"
declare -a SG_SECRETS GA_SECRETS
for i in $(seq 0 "$RUNS"); do
  "$STEPGATE" --config "$WORK/stepgate.toml" user add "bench$i" --email "bench$i@example.com" >/dev/null 2>&1
  uri=$("$STEPGATE" --config "$WORK/stepgate.toml" user enroll-totp "bench$i" --no-qr 2>/dev/null)
  SG_SECRETS[i]=$(sed -E 's/.*[?&]secret=([A-Z2-7]+).*/\1/' <<<"$uri")
  GA_SECRETS[i]=$(head -c 20 /dev/urandom | base32 | tr -d '=')
  printf '%s\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n' "${GA_SECRETS[i]}" >"$WORK/ga/bench$i"
  chmod 0600 "$WORK/ga/bench$i"
done

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
: >"$WORK/sg.times"
: >"$WORK/ga.times"
for i in $(seq 1 "$RUNS"); do
  auth_us "$SG_SERVICE" "bench$i" "${SG_SECRETS[i]}" >>"$WORK/sg.times"
  auth_us "$GA_SERVICE" "bench$i" "${GA_SECRETS[i]}" >>"$WORK/ga.times"
done

# Not OUT_DIR: cargo reads that name from the environment into its fingerprints, and a new
# value every run would rebuild the crates that use it.
RESULTS_DIR=${RESULTS_DIR:-$WORK/out}
mkdir -p "$RESULTS_DIR"
paste -d' ' "$WORK/sg.times" "$WORK/ga.times" | awk 'BEGIN { print "run stepgate_us google_us" } { print NR, $0 }' >"$RESULTS_DIR/pam.txt"
/usr/bin/python3 - "$WORK/sg.times" "$WORK/ga.times" "$RESULTS_DIR/pam.json" <<'PY'
import json, statistics, sys
sg = [int(x) for x in open(sys.argv[1]).read().split()]
ga = [int(x) for x in open(sys.argv[2]).read().split()]
json.dump({"runs": len(sg), "stepgate_us": sg, "google_us": ga}, open(sys.argv[3], "w"))
print(f"==> median ms: pam_stepgate {statistics.median(sg) / 1000:.1f}, "
      f"pam_google_authenticator {statistics.median(ga) / 1000:.1f}, "
      f"ratio {statistics.median(sg) / statistics.median(ga):.2f}")
PY
