#!/bin/sh
# Installs the pinned dependencies (package-lock.json) of the openid-client test project.
# The test command runs this before `cargo test`; tests/tests/e2e/node_client.rs fails
# without the node_modules it creates.
set -eu
cd "$(dirname "$0")"
exec npm ci --no-audit --no-fund
