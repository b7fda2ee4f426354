#!/usr/bin/env bash
# The benchmark suite: Stepgate and its peers on this machine, side by side, in one run.
#
#   tests/bench/run.sh            # full run (about 20 minutes on 2 cores); as root
#   tests/bench/run.sh --smoke    # seconds per workload, to prove the suite works (the test
#                                 # command runs this; its figures mean nothing)
#
# A full run writes every load tool output and a results.jsonl under tests/bench/results/,
# the table and the plot into docs/benchmarks.md and docs/bench/; a smoke run writes only to
# a temporary folder. Workloads, peers and targets: docs/benchmarks.md.
#
# All traffic stays on 127.0.0.1. Every loop is bounded by a duration or a count.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

MODE=full
[[ ${1:-} == --smoke ]] && MODE=smoke

if [[ $MODE == full ]]; then
  DURATION=${DURATION:-5}          # seconds per wrk run
  REPS=${REPS:-3}                  # runs per figure (the median is reported)
  LEVELS=${LEVELS:-"1 4 16 64 256"}
  LOGIN_LEVELS=${LOGIN_LEVELS:-"1 2 4 8 16"}
  LOGIN_SECONDS=${LOGIN_SECONDS:-10}
  REFRESH_LEVELS=${REFRESH_LEVELS:-"1 4 16 64"}
  LOGIN_USERS=${LOGIN_USERS:-4000} # users with TOTP: each logs in at most once per 30 s step
  TOTAL_USERS=${TOTAL_USERS:-100000}
  SMALL_USERS=100
  SCALE_REPS=${SCALE_REPS:-5}        # each scale sample is only ~90 logins (under a second)
  STARTUP_RUNS=${STARTUP_RUNS:-20}
  PAM_RUNS=${PAM_RUNS:-40}
  FLEET_USERS=${FLEET_USERS:-20000} # a run of FLEET_SECONDS at ~1,500/s spends ~15,000 codes
  FLEET_SECONDS=${FLEET_SECONDS:-10} # within one 30-second TOTP step
  FLEET_WARMUP=${FLEET_WARMUP:-3}
  FLEET_MAX=                        # no cap on the verifications of a run
  OUT=$ROOT/tests/bench/results/latest
else
  DURATION=1 REPS=1 LEVELS="4" LOGIN_LEVELS="2" LOGIN_SECONDS=2 REFRESH_LEVELS="2"
  LOGIN_USERS=40 TOTAL_USERS=300 SMALL_USERS=20 SCALE_REPS=1 STARTUP_RUNS=2 PAM_RUNS=2
  FLEET_USERS=400 FLEET_SECONDS=2 FLEET_WARMUP=1 FLEET_MAX=100
  OUT=$(mktemp -d /tmp/stepgate-bench-smoke.XXXXXX)
fi

FLEET_HOSTS=48      # registered hosts; the 16 connections share them, 3 each
FLEET_CONCURRENCY=16

# Debian's interpreter: python3-matplotlib is installed for it, whatever python3 is first on PATH.
PY=/usr/bin/python3

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- what the suite needs -----------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "run as root: it installs packages and writes /etc/pam.d services for the PAM comparison"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v pamtester >/dev/null || need+=(pamtester)
command -v oathtool >/dev/null || need+=(oathtool)
command -v openssl >/dev/null || need+=(openssl)
"$PY" -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
ls /usr/lib/*/security/pam_google_authenticator.so >/dev/null 2>&1 || need+=(libpam-google-authenticator)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
command -v node >/dev/null || die "Node.js ≥ 20 is needed for the oidc-provider peer"
log "installing the peer (oidc-provider, npm ci)"
(cd tests/bench/peer && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

log "building Stepgate, the PAM module and the load driver (release)"
cargo build --release --quiet -p stepgate-idp -p pam_stepgate -p stepgate-bench
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
STEPGATE=$TARGET/stepgate
DRIVER=$TARGET/stepgate-bench

rm -rf "$OUT"
mkdir -p "$OUT/raw"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
WORK=$(mktemp -d /tmp/stepgate-bench-work.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
record() { echo "$1" >>"$RESULTS"; }  # one JSON object per line
# annotate FILE KEY=VALUE...: records the driver's JSON object in FILE with these fields added
# (a value of digits is a number); `workload=scale_` prefixes the driver's workload name.
annotate() {
  "$PY" - "$@" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if k == "workload" and v.endswith("_"):
        v += r["workload"]
    r[k] = int(v) if v.isdigit() else v
print(json.dumps(r))
PY
}
rss_kib() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }

wait_ready() { # URL PID [CURL_ARG...]
  for _ in $(seq 1 400); do
    curl -fsS -o /dev/null "${@:3}" "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || die "the server behind $1 exited"
    sleep 0.05
  done
  die "$1 was not ready in 20 s"
}

# --- Stepgate: one server on a database of TOTAL_USERS users, one on SMALL_USERS ------------
stepgate_instance() { # NAME PORT LOGIN_USERS TOTAL_USERS
  local dir=$WORK/$1 port=$2
  mkdir -p "$dir"
  cat >"$dir/stepgate.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
issuer = "http://127.0.0.1:$port"
[database]
url = "sqlite://stepgate.db"
EOF
  chmod 0600 "$dir/stepgate.toml"
  log "seeding $1: $4 users, $3 of them with TOTP"
  "$DRIVER" seed --config "$dir/stepgate.toml" --login-users "$3" --total-users "$4" \
    --out "$dir/users.json" >"$OUT/raw/seed-$1.json"
  "$STEPGATE" --config "$dir/stepgate.toml" client add web \
    --redirect-uri "http://127.0.0.1:9/callback" --grant authorization_code --grant refresh_token \
    | tail -n 1 | awk '{print $NF}' >"$dir/web.secret"
  "$STEPGATE" --config "$dir/stepgate.toml" client add svc --grant client_credentials --scope api \
    | tail -n 1 | awk '{print $NF}' >"$dir/svc.secret"
}

start_stepgate() { # NAME PORT -> sets SERVER_PID
  "$STEPGATE" --config "$WORK/$1/stepgate.toml" serve >"$OUT/raw/stepgate-$1.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_ready "http://127.0.0.1:$2/readyz" "$SERVER_PID"
}

SG_PORT=$(free_port)
stepgate_instance large "$SG_PORT" "$LOGIN_USERS" "$TOTAL_USERS"
start_stepgate large "$SG_PORT"
# The first start on a new database generates the ES256 and RSA signing keys, which maps more
# of libcrypto; it is recorded apart. The idle figure compared with the peer (which makes its
# one EC key at every start) is taken after a restart on the existing database, as a server in
# service runs.
sleep 1
record "{\"workload\":\"rss_idle_first_start\",\"server\":\"stepgate\",\"kib\":$(rss_kib "$SERVER_PID" VmRSS)}"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
start_stepgate large "$SG_PORT"
SG_PID=$SERVER_PID
SG=http://127.0.0.1:$SG_PORT
SVC_SECRET=$(cat "$WORK/large/svc.secret")

PEER_PORT=$(free_port)
log "starting the peer: oidc-provider $(node -p 'require("./tests/bench/peer/node_modules/oidc-provider/package.json").version'), NODE_ENV=production"
(cd tests/bench/peer && NODE_ENV=production PORT=$PEER_PORT exec node server.mjs) >"$OUT/raw/peer.log" 2>&1 &
PEER_PID=$!
PIDS+=("$PEER_PID")
PEER=http://127.0.0.1:$PEER_PORT
wait_ready "$PEER/.well-known/openid-configuration" "$PEER_PID"
PEER_SECRET=bench-secret-0123456789abcdef

sleep 1
record "{\"workload\":\"rss_idle\",\"server\":\"stepgate\",\"kib\":$(rss_kib "$SG_PID" VmRSS)}"
record "{\"workload\":\"rss_idle\",\"server\":\"oidc-provider\",\"kib\":$(rss_kib "$PEER_PID" VmRSS)}"

endpoint() { curl -fsS "$1/.well-known/openid-configuration" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
token_of() { # BASE CLIENT SECRET
  curl -fsS -u "$2:$3" -d grant_type=client_credentials -d scope=api "$(endpoint "$1" token_endpoint)" |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

# wrk_run SERVER WORKLOAD CONCURRENCY REP URL [BODY AUTH]
wrk_run() {
  local server=$1 workload=$2 c=$3 rep=$4 url=$5 body=${6:-} auth=${7:-}
  local file="$OUT/raw/wrk-$server-$workload-c$c-r$rep.txt" script=()
  [[ -n $body ]] && script=(-s "$ROOT/tests/bench/wrk/post.lua")
  WRK_BODY=$body WRK_AUTH=$auth wrk -t1 -c"$c" -d"${DURATION}s" --latency "${script[@]}" "$url" >"$file"
  local rps non2xx errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$file")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$file")
  errors=$(awk '/Socket errors:/ {gsub(",",""); print $4+$6+$8+$10}' "$file")
  [[ -z $non2xx || $non2xx == 0 ]] || die "$server $workload: $non2xx non-2xx answers (see $file)"
  record "{\"workload\":\"$workload\",\"server\":\"$server\",\"concurrency\":$c,\"rep\":$rep,\"per_sec\":$rps,\"socket_errors\":${errors:-0}}"
}

# --- single requests, Stepgate and the peer alternating --------------------------------------
SG_TOKEN=$(token_of "$SG" svc "$SVC_SECRET")
PEER_TOKEN=$(token_of "$PEER" bench "$PEER_SECRET")
for workload in discovery jwks client_credentials introspection; do
  log "wrk: $workload at concurrency $LEVELS"
  for c in $LEVELS; do
    for rep in $(seq 1 "$REPS"); do
      for server in stepgate oidc-provider; do
        if [[ $server == stepgate ]]; then
          base=$SG id=svc secret=$SVC_SECRET token=$SG_TOKEN
        else
          base=$PEER id=bench secret=$PEER_SECRET token=$PEER_TOKEN
        fi
        case $workload in
          discovery) wrk_run "$server" "$workload" "$c" "$rep" "$base/.well-known/openid-configuration" ;;
          jwks) wrk_run "$server" "$workload" "$c" "$rep" "$(endpoint "$base" jwks_uri)" ;;
          client_credentials)
            wrk_run "$server" "$workload" "$c" "$rep" "$(endpoint "$base" token_endpoint)" \
              "grant_type=client_credentials&scope=api" "$(basic "$id" "$secret")" ;;
          introspection)
            wrk_run "$server" "$workload" "$c" "$rep" "$(endpoint "$base" introspection_endpoint)" \
              "token=$token" "$(basic "$id" "$secret")" ;;
        esac
      done
    done
  done
done
record "{\"workload\":\"rss_peak\",\"server\":\"stepgate\",\"kib\":$(rss_kib "$SG_PID" VmHWM)}"
record "{\"workload\":\"rss_peak\",\"server\":\"oidc-provider\",\"kib\":$(rss_kib "$PEER_PID" VmHWM)}"
kill "$PEER_PID"

# --- full logins and refresh rotation against the argon2id bound ---------------------------
WEB=(--issuer "$SG" --client-id web --client-secret="$(cat "$WORK/large/web.secret")"
  --redirect-uri "http://127.0.0.1:9/callback" --users "$WORK/large/users.json")
log "argon2id bound with the configured parameters"
"$DRIVER" argon2 --config "$WORK/large/stepgate.toml" --seconds "$((DURATION * 2))" | tee -a "$RESULTS" >"$OUT/raw/argon2-before.json"
# driver_levels WORKLOAD LEVELS SECONDS [ARG...]: REPS runs of the driver at each concurrency
# level, with these arguments added
driver_levels() {
  local c rep file
  for c in $2; do
    for rep in $(seq 1 "$REPS"); do
      file=$OUT/raw/$1-c$c-r$rep.json
      "$DRIVER" "$1" "${WEB[@]}" --concurrency "$c" --seconds "$3" "${@:4}" >"$file"
      annotate "$file" server=stepgate rep="$rep"
    done
  done
}
log "full logins at concurrency $LOGIN_LEVELS"
# --server-pid: the server's per-thread CPU per login, the argon2 hash against the rest
driver_levels login "$LOGIN_LEVELS" "$LOGIN_SECONDS" --server-pid "$SG_PID"
"$DRIVER" argon2 --config "$WORK/large/stepgate.toml" --seconds "$((DURATION * 2))" | tee -a "$RESULTS" >"$OUT/raw/argon2-after.json"
log "refresh-token rotation at concurrency $REFRESH_LEVELS"
driver_levels refresh "$REFRESH_LEVELS" "$DURATION"

# --- scale: the same logins and refreshes with TOTAL_USERS and with SMALL_USERS -------------
SMALL_PORT=$(free_port)
stepgate_instance small "$SMALL_PORT" "$SMALL_USERS" "$SMALL_USERS"
start_stepgate small "$SMALL_PORT"
SMALL=(--issuer "http://127.0.0.1:$SMALL_PORT" --client-id web --client-secret="$(cat "$WORK/small/web.secret")"
  --redirect-uri "http://127.0.0.1:9/callback" --users "$WORK/small/users.json")
for rep in $(seq 1 "$SCALE_REPS"); do
  log "scale, run $rep of $SCALE_REPS: $((SMALL_USERS - 10)) logins and 8 refresh chains on each database, in one fresh TOTP step"
  "$DRIVER" wait-step >/dev/null
  order=(large small)
  ((rep % 2 == 0)) && order=(small large)
  for db in "${order[@]}"; do
    if [[ $db == large ]]; then args=("${WEB[@]}"); else args=("${SMALL[@]}"); fi
    # users 0-7 log in for the refresh chains, users 10 and up for the login batch
    "$DRIVER" refresh "${args[@]}" --concurrency 8 --seconds "$DURATION" \
      >"$OUT/raw/scale-refresh-$db-r$rep.json"
    "$DRIVER" login "${args[@]}" --concurrency 4 --seconds 60 --offset 10 --max "$((SMALL_USERS - 10))" \
      >"$OUT/raw/scale-login-$db-r$rep.json"
    for w in login refresh; do
      annotate "$OUT/raw/scale-$w-$db-r$rep.json" workload=scale_ users="$db" rep="$rep"
    done
  done
done

# --- fleet mode: registered hosts verifying TOTP logins over the host protocol (HTTPS) -------
# A server of its own speaking TLS (a throw-away CA), on a database of TOTAL_USERS users of
# whom FLEET_USERS have TOTP and are in the group the FLEET_HOSTS hosts allow. Two shapes, at
# FLEET_CONCURRENCY keep-alive connections: "shared", each connection taking its 3 hosts in
# turn (what the server can do), and "one-per-host", the first 16 hosts only, where the
# per-host limit (100 requests/s, a login being 2) caps the total at 800 logins/s.
log "fleet: TLS server, $FLEET_USERS users with TOTP in the hosts' group, $FLEET_HOSTS hosts"
tests/bench/tls.sh "$WORK/tls"
FLEET_PORT=$(free_port)
mkdir -p "$WORK/fleet"
cat >"$WORK/fleet/stepgate.toml" <<EOF
[server]
listen = "127.0.0.1:$FLEET_PORT"
issuer = "https://127.0.0.1:$FLEET_PORT"
tls_cert = "$WORK/tls/server.pem"
tls_key = "$WORK/tls/server.key"
[database]
url = "sqlite://stepgate.db"
EOF
chmod 0600 "$WORK/fleet/stepgate.toml"
"$DRIVER" seed --config "$WORK/fleet/stepgate.toml" --login-users "$FLEET_USERS" \
  --total-users "$((TOTAL_USERS > FLEET_USERS ? TOTAL_USERS : FLEET_USERS))" \
  --out "$WORK/fleet/users.json" --group bench --hosts "$FLEET_HOSTS" \
  --hosts-out "$WORK/fleet/hosts.json" >"$OUT/raw/seed-fleet.json"
"$PY" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))[:int(sys.argv[2])], open(sys.argv[3], "w"))' \
  "$WORK/fleet/hosts.json" "$FLEET_CONCURRENCY" "$WORK/fleet/hosts-one-each.json"
"$STEPGATE" --config "$WORK/fleet/stepgate.toml" serve >"$OUT/raw/stepgate-fleet.log" 2>&1 &
FLEET_PID=$!
PIDS+=("$FLEET_PID")
wait_ready "https://127.0.0.1:$FLEET_PORT/readyz" "$FLEET_PID" --cacert "$WORK/tls/ca.pem"
sleep 1
record "{\"workload\":\"fleet_rss_idle\",\"server\":\"stepgate\",\"kib\":$(rss_kib "$FLEET_PID" VmRSS)}"
FLEET=(--url "https://127.0.0.1:$FLEET_PORT" --ca "$WORK/tls/ca.pem" --users "$WORK/fleet/users.json"
  --server-pid "$FLEET_PID" --concurrency "$FLEET_CONCURRENCY" ${FLEET_MAX:+--max "$FLEET_MAX"})
# fleet_run NAME CREDENTIALS SECONDS [KEY=VALUE...]; the driver fails if nothing was verified
fleet_run() {
  local file=$OUT/raw/fleet-$1.json
  "$DRIVER" hosts "${FLEET[@]}" --credentials "$2" --seconds "$3" >"$file" ||
    die "fleet $1: the host protocol verified nothing (see $file and $OUT/raw/stepgate-fleet.log)"
  annotate "$file" server=stepgate "${@:4}"
}
log "fleet: warm-up, $FLEET_WARMUP s"
fleet_run warmup "$WORK/fleet/hosts.json" "$FLEET_WARMUP" workload=fleet_warmup
for rep in $(seq 1 "$REPS"); do
  for shape in shared one-per-host; do
    log "fleet, run $rep of $REPS: $shape, $FLEET_CONCURRENCY connections for $FLEET_SECONDS s"
    # a fresh TOTP step: every user's code unspent (a smoke run's few logins need none)
    [[ $MODE == full ]] && "$DRIVER" wait-step >/dev/null
    if [[ $shape == shared ]]; then creds=$WORK/fleet/hosts.json; else creds=$WORK/fleet/hosts-one-each.json; fi
    fleet_run "$shape-r$rep" "$creds" "$FLEET_SECONDS" shape="$shape" rep="$rep"
  done
done

# --- start-up to ready on the existing TOTAL_USERS database ----------------------------------
kill "${PIDS[@]}" 2>/dev/null || true
wait 2>/dev/null || true
PIDS=()
log "start-up to ready, $STARTUP_RUNS runs"
"$DRIVER" startup --bin "$STEPGATE" --config "$WORK/large/stepgate.toml" \
  --ready "$SG/readyz" --runs "$STARTUP_RUNS" >"$OUT/raw/startup.json"
annotate "$OUT/raw/startup.json" workload=startup server=stepgate

# --- PAM: pamtester through pam_stepgate.so and pam_google_authenticator.so ------------------
log "PAM, $PAM_RUNS runs per module"
RUNS=$PAM_RUNS RESULTS_DIR=$OUT/raw tests/bench/pam.sh >&2
annotate "$OUT/raw/pam.json" workload=pam

# --- the report ----------------------------------------------------------------------------
{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "rustc=$(rustc --version)"
  echo "node=$(node --version)"
  echo "oidc_provider=$(node -p 'require("./tests/bench/peer/node_modules/oidc-provider/package.json").version')"
  echo "wrk=$(wrk -v 2>&1 | head -n 1)"
  echo "mode=$MODE duration=$DURATION reps=$REPS levels=$LEVELS login_levels=$LOGIN_LEVELS total_users=$TOTAL_USERS fleet_users=$FLEET_USERS fleet_hosts=$FLEET_HOSTS fleet_seconds=$FLEET_SECONDS"
} >"$OUT/machine.txt"
if [[ $MODE == full ]]; then
  "$PY" tests/bench/report.py "$OUT" --docs docs/benchmarks.md --plots docs/bench
else
  "$PY" tests/bench/report.py "$OUT"
  rm -rf "$OUT"
fi
log "done"
