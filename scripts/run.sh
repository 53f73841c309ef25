#!/usr/bin/env bash
# Installs what is needed and opens Outpost: the desktop window when there
# is a display, otherwise the headless site (outpostd) on OUTPOST_LISTEN.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
DATA_DIR="${OUTPOST_DATA_DIR:-$HOME/.local/share/outpost}"
mkdir -p "$DATA_DIR"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec ./target/debug/outpost --data-dir "$DATA_DIR"
fi
LISTEN="${OUTPOST_LISTEN:-127.0.0.1:8000}"
ADMIN="${OUTPOST_ADMIN:-admin@localhost}"
if [ ! -f "$DATA_DIR/site.db" ]; then
  echo "==> first start: creating the administrator (keep these: they are shown only now)"
  ./target/debug/outpostd user add --data-dir "$DATA_DIR" --email "$ADMIN" \
    --full-name Administrator --role "System Manager" --generate-keys
  PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  printf '%s\n' "$PASSWORD" | ./target/debug/outpostd user set-password --data-dir "$DATA_DIR" --email "$ADMIN" >/dev/null
  echo "    browser sign-in: $ADMIN / $PASSWORD"
fi
# No desktop session here, so no OS keyring: keep producer secrets in
# DATA_DIR/secrets.json (mode 0600) — the explicit headless choice.
echo "==> no display: serving the headless site from $DATA_DIR on http://$LISTEN (secrets: $DATA_DIR/secrets.json)"
exec ./target/debug/outpostd serve --data-dir "$DATA_DIR" --listen "$LISTEN" --secret-store file
