// The installable package (issue: from install to syncing): the .deb that
// scripts/package.sh builds is installed with apt-get on this machine, and
// the installed app — not the build tree's — opens its window under Xvfb.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, api, createAdmin, freePort, sessionWithKeyring, tempDir, until } from "./support.mjs";
import { openApp } from "./window.mjs";

const BUNDLE = join(ROOT, "target", "release", "bundle", "deb");

function newestDeb() {
  const debs = existsSync(BUNDLE) ? readdirSync(BUNDLE).filter((f) => f.endsWith(".deb")) : [];
  assert.ok(debs.length > 0, `no package in ${BUNDLE}: build it with ./scripts/package.sh`);
  return join(BUNDLE, debs.sort().pop());
}

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", ...opts });

test("the .deb installs with apt-get; the installed app opens its window under Xvfb with the UI inside it, and outpostd comes with its browser UI", { timeout: 180000 }, async (t) => {
  const deb = newestDeb();
  sh("apt-get", ["install", "-y", "-qq", "--reinstall", deb], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });

  // What the package put where a clerk's system looks for it.
  const files = sh("dpkg", ["-L", "outpost"]).split("\n");
  for (const f of ["/usr/bin/outpost", "/usr/bin/outpostd", "/usr/share/applications/Outpost.desktop", "/usr/share/outpost/ui/index.html"]) {
    assert.ok(files.includes(f), `${f} is in the package`);
    assert.ok(existsSync(f), `${f} is installed`);
  }
  assert.ok(files.some((f) => /^\/usr\/share\/icons\/hicolor\/.*\/apps\/outpost\.png$/.test(f)), "icons");
  const entry = readFileSync("/usr/share/applications/Outpost.desktop", "utf8");
  assert.match(entry, /^Exec=outpost$/m);
  assert.match(entry, /^Icon=outpost$/m);
  assert.match(entry, /^Name=Outpost$/m);
  assert.match(sh("/usr/bin/outpostd", ["--version"]), /^outpostd \d+\.\d+\.\d+/);

  // The installed app on a new site: the window shows the first-run wizard
  // (its UI comes from inside the binary; nothing of the build tree is used).
  const data = tempDir("outpost-installed-");
  t.after(data.remove);
  const keys = createAdmin(data.dir);
  const env = await sessionWithKeyring(t);
  const apiPort = await freePort();
  const { find, xwin } = await openApp(t, { ...env, PWD: data.dir }, data.dir, apiPort, "/usr/bin/outpost");
  await until("the first-run wizard in the installed app's window", () => find('form[aria-label="Set up Outpost"] input[aria-label="Site name"]'), 30000, 500);
  assert.equal(xwin("--state"), "viewable", "the window is on the screen");
  const info = await until("the installed app's API", async () => (await api(`http://127.0.0.1:${apiPort}`, keys, "GET", "/api/method/outpost.site.info")).message);
  assert.match(info.version, /^\d+\.\d+\.\d+$/);

  // The installed outpostd serves the browser UI from /usr/share/outpost/ui.
  const hub = tempDir("outpost-installed-hub-");
  t.after(hub.remove);
  const port = await freePort();
  const { spawn } = await import("node:child_process");
  const proc = spawn("/usr/bin/outpostd", ["serve", "--data-dir", hub.dir, "--listen", `127.0.0.1:${port}`, "--secret-store", "file"], {
    cwd: hub.dir,
    stdio: "ignore",
    env: { ...process.env, OUTPOST_LOG: "warn" },
  });
  t.after(() => proc.kill("SIGTERM"));
  const page = await until("the installed outpostd's UI", async () => {
    const r = await fetch(`http://127.0.0.1:${port}/`);
    return r.ok ? r.text() : null;
  });
  assert.match(page, /<div id="root">/);
});
