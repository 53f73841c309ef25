// Desktop smoke test: the real Tauri window under Xvfb, driven through
// tauri-driver and WebKitWebDriver, with its secrets in a real keyring.
// The window opens on the dashboard; Sync now there brings a producer's
// note into the desktop site.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, api, binary, canConnect, createAdmin, freePort, serveSite, sessionWithKeyring, start, tempDir, until } from "./support.mjs";

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

test("the desktop window shows the dashboard, Sync now brings a producer's note, and closed it keeps syncing", { timeout: 150000 }, async (t) => {
  const data = tempDir("outpost-desktop-");
  t.after(data.remove);
  const keys = createAdmin(data.dir);
  const env = await sessionWithKeyring(t);

  // A producer (headless) with a note the desktop will subscribe to.
  const producerData = tempDir("outpost-desktop-producer-");
  t.after(producerData.remove);
  const producerKeys = createAdmin(producerData.dir);
  // The key the desktop site subscribes with: a user with only the role Event Subscriber.
  const subscriberKeys = createAdmin(producerData.dir, "desk@example.com", "Event Subscriber");
  const producer = await serveSite(producerData.dir, ["--sync-interval", "3600"]);
  t.after(producer.stop);

  const display = `:${90 + Math.floor(Math.random() * 100)}`;
  const xvfb = start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]);
  t.after(xvfb.stop);
  await until("Xvfb", () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`));

  const driverPort = await freePort();
  const nativePort = await freePort();
  const driver = start("tauri-driver", ["--port", String(driverPort), "--native-port", String(nativePort)], {
    env: { ...env, DISPLAY: display, WEBKIT_DISABLE_DMABUF_RENDERER: "1", OUTPOST_LOG: "info" },
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

  // Subscribe the desktop site to the producer through the app's own API
  // (the secret goes to the keyring), and approve on the producer.
  const base = `http://127.0.0.1:${apiPort}`;
  const info = await until("the app's HTTP API", async () => (await api(base, keys, "GET", "/api/method/outpost.site.info")).message);
  await api(base, keys, "POST", "/api/resource/Event Producer", {
    producer_url: producer.base,
    user: "admin@example.com",
    api_key: subscriberKeys.api_key,
    api_secret: subscriberKeys.api_secret,
    producer_doctypes: [{ ref_doctype: "Note" }],
  });
  const consumerDoc = `/api/resource/Event Consumer/${encodeURIComponent(info.site_id)}`;
  const ec = (await api(producer.base, producerKeys, "GET", consumerDoc)).data;
  await api(producer.base, producerKeys, "PUT", consumerDoc, {
    consumer_doctypes: ec.consumer_doctypes.map((r) => ({ ...r, status: "Approved" })),
  });
  // Background sync paused, so that only the button can bring the note
  // (a sync already running is joined and finished by this Sync now).
  await api(base, keys, "POST", "/api/method/outpost.site.set_background_sync", { enabled: false });
  await api(base, keys, "POST", "/api/method/outpost.event.sync_now", {});
  const title = `Desktop note ${Date.now()}`;
  const note = (await api(producer.base, producerKeys, "POST", "/api/resource/Note", { title })).data;
  await assert.rejects(api(base, keys, "GET", `/api/resource/Note/${encodeURIComponent(note.name)}`), / 404 /, "not here before the click");

  const find = async (css) => {
    const el = await webdriver(wd, "POST", `${s}/element`, { using: "css selector", value: css });
    return Object.values(el)[0];
  };
  const text = async (css) => webdriver(wd, "GET", `${s}/element/${await find(css)}/text`);

  // The dashboard, with this producer online, and the big Sync now.
  await until("the producer on the dashboard", async () => (await text(`tr[data-producer="${producer.base}"]`)).includes("Registered"), 30000, 500);
  const button = await until("the Sync now button", () => find("button.big"), 30000, 500);
  assert.equal((await webdriver(wd, "GET", `${s}/element/${button}/text`)).trim(), "Sync now");
  await webdriver(wd, "POST", `${s}/element/${button}/click`, {});
  const result = await until("the Sync now result", () => text(".sync-result"), 30000, 300);
  assert.match(result, new RegExp(`${producer.base.replace(/[.]/g, "\\.")}: 1 synced, 0 failed`));
  const arrived = await api(base, keys, "GET", `/api/resource/Note/${note.name}`);
  assert.equal(arrived.data.title, title, "the note is in the desktop site");
  assert.match(await text(`tr[data-producer="${producer.base}"]`), /online/);

  // Keep syncing in the background (F22): closing the window leaves the site
  // serving and pulling; a new note still arrives.
  await api(base, keys, "POST", "/api/method/outpost.site.set_keep_in_background", { enabled: true });
  await api(base, keys, "POST", "/api/method/outpost.site.set_background_sync", { enabled: true });
  const later = (await api(producer.base, producerKeys, "POST", "/api/resource/Note", { title: `${title} (later)` })).data;
  // WebKitWebDriver's own screenshot hangs under Xvfb; grab the X screen instead.
  const shotBeforeClose = join(ROOT, "target", "e2e", "desktop-dashboard.png");
  mkdirSync(join(ROOT, "target", "e2e"), { recursive: true });
  execFileSync("import", ["-display", display, "-window", "root", shotBeforeClose]);
  // The close button, as a window manager sends it (WebDriver's "close
  // window" destroys the window without asking the app).
  const xwin = (...args) =>
    execFileSync("/usr/bin/python3", [join(ROOT, "tests", "e2e", "close-window.py"), ...args, "Outpost"], {
      env: { ...process.env, DISPLAY: display },
      encoding: "utf8",
    }).trim();
  assert.equal(xwin("--state"), "viewable");
  xwin();
  await until("the window to be hidden", () => xwin("--state") === "hidden", 10000);
  await until("the later note, synced with the window closed", async () =>
    (await api(base, keys, "GET", `/api/resource/Note/${later.name}`)).data.title === later.title, 30000, 500);

  const shot = shotBeforeClose;
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(join(ROOT, "docs", "screenshots"), { recursive: true });
    copyFileSync(shot, join(ROOT, "docs", "screenshots", "desktop-dashboard.png"));
  }
});
