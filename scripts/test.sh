#!/usr/bin/env bash
# Runs Stepgate's whole test suite. On a fresh Debian machine, as root, it first installs every
# system package the tests use and starts a throw-away PostgreSQL on loopback; elsewhere it
# checks that those tools are present and says what is missing.
#
#   scripts/test.sh            # everything: format, lints, all tests, the benchmarks' smoke run
#   scripts/test.sh -- ARGS    # extra arguments for `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# One build from scratch: incremental state would only take disk (gigabytes) and never be reused.
# Set CARGO_INCREMENTAL=1 to keep it when running the suite again and again while developing.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

PACKAGES=(
  build-essential pkg-config libssl-dev  # C toolchain and OpenSSL for -sys crates (josekit, webauthn-rs)
  postgresql                       # the PostgreSQL backend's tests
  oathtool                         # independent TOTP implementation to check ours against
  python3 python3-aiosmtpd         # a real SMTP server for email delivery tests
  libpam0g-dev pamtester           # the PAM module and its tests
  openssh-server openssh-client    # a real sshd and ssh client through the PAM module
  chromium                         # the browser tests (driven by playwright-core)
  wrk libpam-google-authenticator python3-matplotlib  # the benchmark suite's smoke run
  debootstrap lintian zstd curl    # the Debian packages' test (tests/packages/run.sh)
)

need_install=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_install+=("$p")
done
if ((${#need_install[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "==> installing: ${need_install[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null
  else
    echo "missing packages: ${need_install[*]} (run this script as root, or apt-get install them)" >&2
    exit 1
  fi
fi

# --- a throw-away PostgreSQL on loopback --------------------------------------------------
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PG_DIR=$(mktemp -d /tmp/stepgate-pg.XXXXXX)
PG_PORT=${STEPGATE_TEST_PG_PORT:-55432}
run_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$PG_DIR"
cleanup() {
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT
echo "==> starting PostgreSQL on 127.0.0.1:$PG_PORT"
run_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U stepgate >/dev/null
run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
export STEPGATE_TEST_POSTGRES_URL="postgres://stepgate@127.0.0.1:$PG_PORT/postgres"
# Every PostgreSQL half runs here: without a URL they would fail, never skip (a plain
# `cargo test` without PostgreSQL skips them; tests/src/postgres.rs).
export STEPGATE_TEST_REQUIRE_POSTGRES=1

# --- Node peers: the certified openid-client RP ---------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
# Older than 20 (Debian 12 has 18), or none: Node.js 22 as a package from the npm registry
# (node-linux-<arch>, the platform package of npm's `node`, holds the official binary) and a
# matching npm, in target/node, first on PATH. STEPGATE_TEST_NODE_FROM_NPM=1 forces this.
NODE_VERSION=22.23.3 NPM_VERSION=10.9.9
if ((node_major < 20)) || [[ -n ${STEPGATE_TEST_NODE_FROM_NPM:-} ]]; then
  case $(uname -m) in x86_64) node_arch=x64 ;; aarch64) node_arch=arm64 ;; *) echo "no Node.js package for $(uname -m)" >&2; exit 1 ;; esac
  if [[ $(target/node/bin/node --version 2>/dev/null) != "v$NODE_VERSION" ]]; then
    if ! command -v npm >/dev/null && [[ $(id -u) -eq 0 ]]; then  # only to fetch from the registry
      apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "==> npm install node-linux-$node_arch@$NODE_VERSION npm@$NPM_VERSION (into target/node)"
    rm -rf target/node
    npm install --global --prefix target/node --no-audit --no-fund --loglevel=error \
      "node-linux-$node_arch@$NODE_VERSION" "npm@$NPM_VERSION"
  fi
  export PATH="$PWD/target/node/bin:$PATH"
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
fi
if ((node_major < 20)); then
  echo "Node.js >= 20 with npm is needed for the openid-client test (found: ${node_major})" >&2
  exit 1
fi
echo "==> npm ci (tests/node-client)"
tests/node-client/install.sh

# --- checks and tests -----------------------------------------------------------------------
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "==> cargo test"
extra=()
if [[ "${1:-}" == "--" ]]; then shift; extra=("$@"); fi
cargo test --workspace "${extra[@]}"

echo "==> browser tests (Chromium + Playwright against the real stepgate binary)"
# The binary `cargo test` built for idp's own tests (same features, so nothing is compiled twice;
# `cargo build -p stepgate-idp` alone would rebuild tokio, sqlx & co. without dev-dependencies'
# features). A no-op after a full `cargo test --workspace`; builds it after a partial one.
cargo test --workspace --no-run --quiet
tests/browser/run.sh

echo "==> benchmark suite, smoke mode (proves tests/bench/run.sh works; its figures mean nothing)"
tests/bench/run.sh --smoke

echo "==> Debian packages (cargo deb, lintian, install, sign-in, pamtester and purge in a debootstrap chroot)"
tests/packages/run.sh
