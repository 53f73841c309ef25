// The real app window under a fresh Xvfb, driven through tauri-driver and
// WebKitWebDriver (plain W3C WebDriver over HTTP).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, binary, canConnect, freePort, start, until } from "./support.mjs";

export async function webdriver(base, method, path, body) {
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

/**
 * Opens the real app window on `dataDir` under a fresh Xvfb, through
 * tauri-driver, with the site's API on `apiPort`; returns WebDriver helpers
 * and `xwin` (the window as the X server sees it).
 */
export async function openApp(t, env, dataDir, apiPort, application = binary("outpost")) {
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
  const session = await webdriver(wd, "POST", "/session", {
    capabilities: {
      alwaysMatch: {
        "tauri:options": {
          application,
          args: ["--data-dir", dataDir, "--listen", `127.0.0.1:${apiPort}`],
        },
      },
    },
  });
  const s = `/session/${session.sessionId}`;
  t.after(() => webdriver(wd, "DELETE", s).catch(() => {}));

  const find = async (value, using = "css selector") => {
    const el = await webdriver(wd, "POST", `${s}/element`, { using, value });
    return Object.values(el)[0];
  };
  const text = async (css) => webdriver(wd, "GET", `${s}/element/${await find(css)}/text`);
  const click = async (el) => webdriver(wd, "POST", `${s}/element/${el}/click`, {});
  const type = async (el, value) => {
    await webdriver(wd, "POST", `${s}/element/${el}/clear`, {});
    await webdriver(wd, "POST", `${s}/element/${el}/value`, { text: value });
  };
  // The close button, as a window manager sends it (WebDriver's "close
  // window" destroys the window without asking the app).
  const xwin = (...args) =>
    execFileSync("/usr/bin/python3", [join(ROOT, "tests", "e2e", "close-window.py"), ...args, "Outpost"], {
      env: { ...process.env, DISPLAY: display },
      encoding: "utf8",
    }).trim();
  const value = async (css) => webdriver(wd, "GET", `${s}/element/${await find(css)}/property/value`);
  return { wd, s, display, find, text, click, type, value, xwin };
}

