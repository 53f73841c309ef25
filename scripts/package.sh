#!/usr/bin/env bash
# Builds the installable Linux package: target/release/bundle/deb/Outpost_<version>_amd64.deb
# (release profile; the UI embedded in the binary; a desktop entry and icons;
# outpostd in /usr/bin beside the app, the UI it serves in /usr/share/outpost/ui). `tauri build` makes it.
#
# Other targets of the same bundler need their own machine: Windows .msi/.exe
# (run on Windows: `npx tauri build --bundles msi`), macOS .app/.dmg (on macOS:
# `--bundles dmg`). On Linux it could also make an .rpm (`--bundles rpm`) or
# an AppImage (which downloads its tools while building); this script makes
# the .deb, which is what Debian and Ubuntu shops install.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> UI: npm ci && npm run build"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

echo "==> outpostd (release)"
cargo build --release --quiet -p outpost-server --bin outpostd

# The tauri CLI wants its configuration beside the app's Cargo.toml; the one
# configuration stays at the root, and src-tauri gets a copy with its paths
# made relative to src-tauri and the package's settings added (not committed).
node - <<'JS'
const fs = require("fs");
const conf = JSON.parse(fs.readFileSync("tauri.conf.json", "utf8"));
conf.build.frontendDist = "../" + conf.build.frontendDist;
conf.bundle.active = true;
conf.bundle.targets = ["deb"];
conf.bundle.icon = conf.bundle.icon.map((p) => "../" + p);
conf.bundle.category = "Office";
conf.bundle.shortDescription = "Offline-first shop site that syncs documents with its hub";
conf.bundle.linux = {
  deb: {
    // The tray icon's library and the keyring service; webkit and gtk are added by the bundler.
    depends: ["libayatana-appindicator3-1", "gnome-keyring"],
    // outpostd, and the UI it serves to browsers (the window's is inside the app).
    files: { "/usr/bin/outpostd": "../target/release/outpostd", "/usr/share/outpost/ui": "../ui/dist" },
  },
};
fs.writeFileSync("src-tauri/tauri.conf.json", JSON.stringify(conf, null, 2) + "\n");
JS
trap 'rm -f src-tauri/tauri.conf.json' EXIT

echo "==> tauri build --bundles deb"
(cd ui && TAURI_APP_PATH=../src-tauri npx tauri build --bundles deb --ci)

deb=$(ls -t target/release/bundle/deb/*.deb | head -1)
echo "==> built $deb"
echo "    install it with: apt-get install -y ./$deb"
