#!/usr/bin/env bash
# Installs what is needed and runs the whole test suite: formatting, lints,
# Rust unit and cross-site tests (real outpostd processes), generated
# TypeScript types, and end-to-end tests (the real Tauri window under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
./scripts/build.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> cargo test --workspace"
cargo test --workspace 2>&1 | tee -a "$log"

echo "==> generated TypeScript types are up to date"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code --stat -- ui/src/bindings || {
    echo "ui/src/bindings is stale: run cargo test -p outpost-engine and commit the result" >&2
    exit 1
  }
  untracked=$(git ls-files --others --exclude-standard -- ui/src/bindings)
  [ -z "$untracked" ] || { echo "new generated types not committed: $untracked" >&2; exit 1; }
fi

echo "==> the installable package (scripts/package.sh; the package test installs it)"
./scripts/package.sh

echo "==> end-to-end tests (node --test)"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error && node --test --test-concurrency=1 --test-reporter=spec) 2>&1 | tee -a "$log"

passed=$(grep -hoE '([0-9]+) passed;' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -hoE '([0-9]+) failed;' "$log" | awk '{s+=$1} END {print s+0}')
e2e_pass=$(grep -hoE '^ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
e2e_fail=$(grep -hoE '^ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
echo "tests: $((passed + e2e_pass)) passed, $((failed + e2e_fail)) failed"
