#!/usr/bin/env bash
# Installs what building, running and testing Outpost needs on Debian 12,
# as root. Idempotent: anything already present is left alone.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config curl ca-certificates git
  libwebkit2gtk-4.1-dev librsvg2-dev libssl-dev libayatana-appindicator3-dev  # Tauri
  xvfb xauth webkit2gtk-driver imagemagick python3-xlib                       # the window under Xvfb
  dbus dbus-x11 gnome-keyring libsecret-1-dev libdbus-1-dev libsecret-tools   # OS keyring (Secret Service)
  dunst                                                                       # a notification daemon for tests
  chromium                                                                    # browser tests
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  echo "==> installing the Rust toolchain (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "==> installing Node.js 22 (the UI build needs Node 20.19 or newer)"
  curl -fsSL https://deb.nodesource.com/setup_22.x | as_root bash -
  as_root apt-get install -y -qq nodejs >/dev/null
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "==> cargo install tauri-driver (drives the real window in tests)"
  cargo install tauri-driver --version 2.1.0 --locked
fi
