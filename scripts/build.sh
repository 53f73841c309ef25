#!/usr/bin/env bash
# Builds the UI (needed by the desktop build) and the workspace, debug profile.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
echo "==> UI: npm ci && npm run build"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
echo "==> cargo build --workspace"
cargo build --workspace --quiet
