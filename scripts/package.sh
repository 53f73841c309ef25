#!/usr/bin/env bash
# Builds the installable Linux package: target/release/bundle/deb/outpost_<version>_amd64.deb
# (release profile; the UI embedded in the app's binary; a desktop entry and
# icons; outpostd in /usr/bin beside the app, with the UI it serves to
# browsers in /usr/share/outpost/ui). Install it with
#   apt-get install -y ./target/release/bundle/deb/outpost_<version>_amd64.deb
#
# The package has the layout `tauri build --bundles deb` gives; it is put
# together with dpkg-deb from the same release binaries because the tauri
# CLI cannot be installed from this project's npm registry mirror (its
# per-platform packages are missing) and compiling it (`cargo install
# tauri-cli`) would add ten minutes to every cold CI run. Where the CLI is
# at hand, `npx tauri build --bundles deb` makes the same package; Windows
# (.msi) and macOS (.dmg) packages need their own machines and that CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> UI: npm ci && npm run build"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

echo "==> cargo build --release (the app and outpostd)"
cargo build --release --quiet -p outpost --bin outpost -p outpost-server --bin outpostd

version=$(node -p 'require("./tauri.conf.json").version')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/outpost_${version}_${arch}"

install -D -m 0755 target/release/outpost "$root/usr/bin/outpost"
install -D -m 0755 target/release/outpostd "$root/usr/bin/outpostd"
mkdir -p "$root/usr/share/outpost"
cp -r ui/dist "$root/usr/share/outpost/ui"
install -D -m 0644 icons/32x32.png "$root/usr/share/icons/hicolor/32x32/apps/outpost.png"
install -D -m 0644 icons/128x128.png "$root/usr/share/icons/hicolor/128x128/apps/outpost.png"
install -D -m 0644 icons/128x128@2x.png "$root/usr/share/icons/hicolor/256x256@2/apps/outpost.png"
install -D -m 0644 icons/icon.png "$root/usr/share/icons/hicolor/512x512/apps/outpost.png"
install -D -m 0644 /dev/stdin "$root/usr/share/applications/Outpost.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Outpost
Comment=Offline-first shop site that syncs documents with its hub
Exec=outpost
Icon=outpost
Terminal=false
Categories=Office;
DESKTOP

size=$(du -sk "$root/usr" | cut -f1)
install -D -m 0644 /dev/stdin "$root/DEBIAN/control" <<CONTROL
Package: outpost
Version: $version
Architecture: $arch
Maintainer: Outpost <outpost@example.com>
Installed-Size: $size
Depends: libwebkit2gtk-4.1-0, libgtk-3-0, libayatana-appindicator3-1, gnome-keyring
Section: misc
Priority: optional
Homepage: https://example.com/outpost
Description: Offline-first shop site that syncs documents with its hub
 Outpost makes a shop's laptop a site with its own store and streams
 documents between sites (Event Streaming, as in Frappe). The desktop app
 (outpost) and the headless site (outpostd) share one engine.
CONTROL

mkdir -p target/release/bundle/deb
deb="target/release/bundle/deb/outpost_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "==> built $deb"
echo "    install it with: apt-get install -y ./$deb"
