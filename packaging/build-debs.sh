#!/usr/bin/env bash
# Builds the two Debian packages with cargo-deb from the release build:
#   target/debian/stepgate_<version>_<arch>.deb         server, admin CLI, systemd unit, user
#   target/debian/libpam-stepgate_<version>_<arch>.deb  pam_stepgate.so, pam-auth-update profile
# and prints their paths, one a line. Installs cargo-deb (crates.io) when it is missing.
#
#   packaging/build-debs.sh             # cargo build --release first (a no-op when up to date)
#   packaging/build-debs.sh --no-build  # package target/release/ as it is
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo-deb >/dev/null; then
  echo "==> cargo install cargo-deb --locked" >&2
  cargo install cargo-deb --locked --quiet
fi

# The same packages as the benchmark suite builds (tests/bench/run.sh): another set unifies
# other crate features and relinks the fat-LTO binaries (minutes) although nothing changed.
# After the test command's benchmark smoke run this is a no-op.
if [[ ${1:-} != --no-build ]]; then
  echo "==> cargo build --release (stepgate, pam_stepgate)" >&2
  cargo build --release --quiet -p stepgate-idp -p pam_stepgate -p stepgate-bench
fi

out=target/debian
# cargo-deb prints the path of the package it wrote.
cargo deb --quiet --no-build -p stepgate-idp -o "$out"
# --multiarch=same: the module goes to /usr/lib/<DEB_HOST_MULTIARCH>/security/ of the target
# (x86_64-linux-gnu, aarch64-linux-gnu…), where Debian's libpam loads modules from.
cargo deb --quiet --no-build -p pam_stepgate --multiarch=same -o "$out"
