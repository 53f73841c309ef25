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
if [ ! -f "$DATA_DIR/site.db" ]; then
  echo "==> first start: creating the administrator (keep the secret: it is shown only now)"
  ./target/debug/outpostd user add --data-dir "$DATA_DIR" --email "${OUTPOST_ADMIN:-admin@localhost}" \
    --full-name Administrator --role "System Manager" --generate-keys
fi
echo "==> no display: serving the headless site from $DATA_DIR on $LISTEN"
exec ./target/debug/outpostd serve --data-dir "$DATA_DIR" --listen "$LISTEN"
