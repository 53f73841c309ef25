// Shared helpers for end-to-end tests: real processes, free ports, cleanup.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const TARGET = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug");

export function binary(name) {
  const p = join(TARGET, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: build it first (cargo build --workspace)`);
  return p;
}

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((ok) => {
    const sock = createConnection({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      ok(true);
    });
    sock.once("error", () => ok(false));
  });
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A site admin (or a user with `role`) with keys, created through the real CLI. */
export function createAdmin(dataDir, email = "admin@example.com", role = "System Manager") {
  const out = execFileSync(
    binary("outpostd"),
    ["user", "add", "--data-dir", dataDir, "--email", email, "--role", role, "--generate-keys"],
    { encoding: "utf8", env: { ...process.env, OUTPOST_LOG: "warn" } },
  );
  return JSON.parse(out.trim().split("\n").pop());
}

/** Names a site through the real CLI (a named site's window skips the first-run wizard). */
export function nameSite(dataDir, name) {
  execFileSync(binary("outpostd"), ["init", "--data-dir", dataDir, "--name", name], {
    encoding: "utf8",
    env: { ...process.env, OUTPOST_LOG: "warn" },
  });
}

/** Starts a process; `stop()` ends it and waits for it. */
export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((ok) => child.on("exit", ok));
  return {
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function until(what, fn, timeoutMs = 20000, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** Calls a site's REST API with an admin's token. */
export async function api(base, keys, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: {
      Authorization: `token ${keys.api_key}:${keys.api_secret}`,
      "Content-Type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Sets a user's password through the real CLI (browser sign-in). */
export function setPassword(dataDir, email, password) {
  execFileSync(binary("outpostd"), ["user", "set-password", "--data-dir", dataDir, "--email", email], {
    input: `${password}\n`,
    encoding: "utf8",
    env: { ...process.env, OUTPOST_LOG: "warn" },
  });
}

/** A real headless site: `outpostd serve` on a free port; resolves once it listens. */
export async function serveSite(dataDir, extraArgs = [], env = {}) {
  const proc = start(
    binary("outpostd"),
    ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--secret-store", "file", ...extraArgs],
    { env: { ...process.env, OUTPOST_LOG: "warn", ...env } },
  );
  const ready = await until("outpostd to listen", () => {
    const line = proc.log().split("\n").find((l) => l.startsWith("{"));
    return line ? JSON.parse(line) : null;
  });
  return { ...proc, base: `http://${ready.listening}`, siteId: ready.site_id };
}

/** A private session bus with a real Secret Service (gnome-keyring), for the
 * desktop app's keyring. Returns the environment to run programs in. */
export async function sessionWithKeyring(t) {
  const home = tempDir("outpost-home-");
  t.after(home.remove);
  const bus = start("dbus-daemon", ["--session", "--nofork", "--print-address=1"]);
  t.after(bus.stop);
  const address = await until("the session bus", () => bus.log().split("\n")[0].includes("unix:") && bus.log().split("\n")[0].trim());
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, HOME: home.dir, XDG_DATA_HOME: home.dir };
  const keyring = spawn("gnome-keyring-daemon", ["--foreground", "--unlock", "--components=secrets"], {
    env,
    stdio: ["pipe", "ignore", "ignore"],
  });
  keyring.stdin.end("desktop-test-password");
  t.after(() => keyring.kill("SIGKILL"));
  await until("the Secret Service", () =>
    execFileSync("dbus-send", ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"], { env, encoding: "utf8" }).includes("boolean true"));
  return env;
}
