// Desktop smoke test: the real Tauri window under Xvfb, driven through
// tauri-driver and WebKitWebDriver. A document created through the app's
// own HTTP API must appear in the window's documents list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, api, binary, canConnect, createAdmin, freePort, start, tempDir, until } from "./support.mjs";

async function webdriver(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${path} → ${res.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

test("the desktop window lists a document created through the API", { timeout: 120000 }, async (t) => {
  const data = tempDir("outpost-desktop-");
  t.after(data.remove);
  const keys = createAdmin(data.dir);

  const display = `:${90 + Math.floor(Math.random() * 100)}`;
  const xvfb = start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]);
  t.after(xvfb.stop);
  await until("Xvfb", () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`));

  const driverPort = await freePort();
  const nativePort = await freePort();
  const driver = start("tauri-driver", ["--port", String(driverPort), "--native-port", String(nativePort)], {
    env: { ...process.env, DISPLAY: display, WEBKIT_DISABLE_DMABUF_RENDERER: "1", OUTPOST_LOG: "info" },
  });
  t.after(driver.stop);
  t.after(() => { if (process.env.E2E_DEBUG) console.log(driver.log()); });
  const wd = `http://127.0.0.1:${driverPort}`;
  // tauri-driver answers nothing useful before a session exists: wait until it
  // and the WebKitWebDriver it starts both listen (slow on a loaded machine).
  await until("tauri-driver to listen", () => canConnect(driverPort));
  await until("WebKitWebDriver to listen", () => canConnect(nativePort), 30000);

  const apiPort = await freePort();
  const session = await webdriver(wd, "POST", "/session", {
    capabilities: {
      alwaysMatch: {
        "tauri:options": {
          application: binary("outpost"),
          args: ["--data-dir", data.dir, "--listen", `127.0.0.1:${apiPort}`],
        },
      },
    },
  });
  const s = `/session/${session.sessionId}`;
  t.after(() => webdriver(wd, "DELETE", s).catch(() => {}));

  // The app serves the site's API; create a customer through it.
  const base = `http://127.0.0.1:${apiPort}`;
  const info = await until("the app's HTTP API", async () => (await api(base, keys, "GET", "/api/method/outpost.site.info")).message);
  const customer = `Desktop Smoke ${Date.now()}`;
  await api(base, keys, "POST", "/api/resource/Customer", { customer_name: customer, territory: "North" });

  // The window shows it (the list refreshes by itself every few seconds).
  const find = async (css) => {
    const el = await webdriver(wd, "POST", `${s}/element`, { using: "css selector", value: css });
    return Object.values(el)[0];
  };
  const row = await until("the customer row in the window", () => find(`tr[data-name="${customer}"]`), 30000, 500);
  const text = await webdriver(wd, "GET", `${s}/element/${row}/text`);
  assert.match(text, new RegExp(customer));
  const siteId = await webdriver(wd, "GET", `${s}/element/${await find("#site-id")}/text`);
  assert.equal(siteId.trim(), info.site_id, "the window shows this site's id");

  // WebKitWebDriver's own screenshot hangs under Xvfb; grab the X screen instead.
  const dir = join(ROOT, "target", "e2e");
  mkdirSync(dir, { recursive: true });
  const shot = join(dir, "desktop-documents.png");
  execFileSync("import", ["-display", display, "-window", "root", shot]);
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(join(ROOT, "docs", "screenshots"), { recursive: true });
    copyFileSync(shot, join(ROOT, "docs", "screenshots", "desktop-documents.png"));
  }
});
