// The PouchDB side of the catch-up benchmark (`node pouch.mjs N`): the same
// N Sales Invoices of five rows that Outpost's bench moves, held by a
// pouchdb-server on loopback and pulled once into a local PouchDB in this
// process, so the two figures come from the same machine in the same run.
// Prints one JSON line on stdout; everything else goes to stderr.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import PouchDB from 'pouchdb';

const require = createRequire(import.meta.url);

const SEED_BATCH = 5000; // as Outpost's `seed --batch 5000`
const BATCH_SIZE = 500; // PouchDB's replication batch
const ROWS = 5;
// What one of Outpost's Sales Invoices weighs as JSON, so both sides move
// about the same bytes; the filler text in remarks makes up the difference.
const DOC_JSON_BYTES = 2200;
const SERVER_START_TIMEOUT_MS = 30_000;

const log = (...args) => console.error('[pouch]', ...args);

/** N from argv, or a usage error and exit 2. */
function parseN(argv) {
  const arg = argv[2];
  if (argv.length !== 3 || !/^[1-9][0-9]*$/.test(arg) || !Number.isSafeInteger(Number(arg))) {
    console.error('usage: node pouch.mjs N   (N: number of invoices, an integer > 0)');
    process.exit(2);
  }
  return Number(arg);
}

// ---------------------------------------------------------------- documents

// Words for the padding text. Drawn pseudo-randomly rather than one phrase
// repeated: leveldb compresses its blocks (snappy), and a repeated phrase
// would shrink to nothing on disk, flattering PouchDB's bytes per document.
const WORDS = (
  'delivered warehouse goods checked against packing list payment due within ' +
  'thirty days posting date late payments bear interest agreed framework ' +
  'contract pallet carton invoice customer order shipment freight insured ' +
  'returned damaged replaced credit note discount quarterly volume rebate ' +
  'signed received store north south east west branch account manager ' +
  'approved pending review urgent standard express courier tracking number'
).split(' ');

/** Deterministic text of exactly `length` characters, seeded by `seed`. */
function filler(length, seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  let text = '';
  while (text.length < length) {
    // xorshift32: cheap, and the same seed gives the same text every run.
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    text += WORDS[x % WORDS.length] + ' ';
  }
  return text.slice(0, length);
}

/** One item row; deterministic from (invoice, row) so every run seeds the same data. */
function itemRow(i, r) {
  const item = ((i * 7 + r * 13) % 50) + 1;
  const qty = ((i + r) % 9) + 1;
  const rate = (((i * 3 + r) % 40) + 1) * 2.5;
  return {
    item_code: `ITEM-${String(item).padStart(4, '0')}`,
    item_name: `Item ${item}`,
    qty,
    rate,
    amount: qty * rate,
    description: `Item ${item}: ${filler(180, i * ROWS + r)}`,
  };
}

/** The i-th Sales Invoice (1-based), padded to DOC_JSON_BYTES of JSON. */
function invoice(i) {
  const items = Array.from({ length: ROWS }, (_, r) => itemRow(i, r + 1));
  const day = new Date(Date.UTC(2026, 0, 1) + (i % 365) * 86_400_000);
  const doc = {
    _id: `SINV-${String(i).padStart(5, '0')}`,
    doctype: 'Sales Invoice',
    customer: `Customer ${(i % 97) + 1}`,
    posting_date: day.toISOString().slice(0, 10),
    currency: 'USD',
    status: 'Draft',
    remarks: '',
    items,
    grand_total: items.reduce((sum, row) => sum + row.amount, 0),
  };
  // ASCII only, so string length is byte length.
  doc.remarks = filler(Math.max(0, DOC_JSON_BYTES - JSON.stringify(doc).length), -i);
  return doc;
}

// ------------------------------------------------------------------- server

/** A port free on 127.0.0.1 right now (the OS picks it; we hand it on). */
async function freePort() {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');
  return port;
}

/**
 * Starts pouchdb-server (leveldb, on disk under `dir`) without a shell. Its
 * cwd is `dir` too, because it writes config.json and log.txt into its cwd.
 */
function startServer(dir, port) {
  const entry = require.resolve('pouchdb-server');
  const dataDir = path.join(dir, 'server-data');
  const args = [
    entry,
    '--host', '127.0.0.1',
    '--port', String(port),
    '--dir', dataDir,
    '--config', path.join(dir, 'config.json'),
    // One log line per request would drown our stderr (its log.txt in `dir`
    // still has them). The short flag, because its option parser reads the
    // long `--no-stdout-logs` as "stdout-logs: false" and ignores it.
    '-n',
  ];
  // Its stdout is not ours: our stdout carries only the JSON line.
  return spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 2, 2] });
}

/** Polls the server's root until it answers, failing if it exits first. */
async function waitForServer(child, url) {
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pouchdb-server exited before answering (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return (await res.json()).version;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`pouchdb-server did not answer at ${url} within ${SERVER_START_TIMEOUT_MS / 1000} s`);
}

async function request(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Seeds n invoices through _bulk_docs; the average JSON size of one. */
async function seed(dbUrl, n) {
  let jsonBytes = 0;
  for (let start = 1; start <= n; start += SEED_BATCH) {
    const docs = [];
    for (let i = start; i < Math.min(start + SEED_BATCH, n + 1); i++) {
      const doc = invoice(i);
      jsonBytes += JSON.stringify(doc).length;
      docs.push(doc);
    }
    const results = await request('POST', `${dbUrl}/_bulk_docs`, JSON.stringify({ docs }));
    const failed = results.filter((r) => r.error);
    if (failed.length > 0) {
      throw new Error(`_bulk_docs refused ${failed.length} documents, e.g. ${JSON.stringify(failed[0])}`);
    }
  }
  return jsonBytes / n;
}

// ------------------------------------------------------------- measurements

/** Bytes of every file under `dir`, recursively. */
function diskBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? diskBytes(full) : fs.statSync(full).size;
  }
  return total;
}

/**
 * The local database's bytes once leveldb has settled: closed, then opened
 * and closed again, because opening turns its write-ahead log into a
 * (compressed) table. Counted straight after replication, the figure would
 * depend on whether the log had happened to fill and flush, and jump with N.
 */
async function settledDiskBytes(localPath) {
  await state.localDb.close();
  const unsettled = diskBytes(localPath);
  state.localDb = new PouchDB(localPath);
  await state.localDb.info(); // opens it
  await state.localDb.close();
  state.localDb = null;
  const settled = diskBytes(localPath);
  log(`consumer database: ${unsettled} bytes on disk after replication, ${settled} once reopened`);
  return settled;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in kB

const round = (value, digits) => Number(value.toFixed(digits));

// ------------------------------------------------------------------ cleanup

/** What must be undone on every way out: the server, the local db, the temp dir. */
const state = { child: null, localDb: null, tmp: null };
let cleaning = null;

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function cleanup() {
  cleaning ??= (async () => {
    if (state.localDb) await state.localDb.close().catch(() => {});
    if (state.child) await stopServer(state.child);
    // The server is gone before this, so nothing writes into the dir as it goes.
    if (state.tmp) fs.rmSync(state.tmp, { recursive: true, force: true, maxRetries: 3 });
  })();
  return cleaning;
}

// Last resort if the process exits without the async cleanup finishing.
process.on('exit', () => {
  if (state.child && state.child.exitCode === null && state.child.signalCode === null) {
    state.child.kill('SIGKILL');
  }
  if (state.tmp) fs.rmSync(state.tmp, { recursive: true, force: true });
});

/** Leaves at once, but only after the cleanup: for signals and stray errors. */
let bailing = false;
function bail(code, message) {
  if (bailing) return;
  bailing = true;
  log(`${message}; stopping the server and removing ${state.tmp ?? 'nothing'}`);
  cleanup().finally(() => process.exit(code));
}

process.on('SIGINT', () => bail(130, 'SIGINT'));
process.on('SIGTERM', () => bail(143, 'SIGTERM'));
// PouchDB's replicator can leave a request of its own unawaited when the
// server goes away; without this, node would exit before the cleanup.
process.on('unhandledRejection', (err) => bail(1, `failed: ${err?.stack ?? err}`));

// --------------------------------------------------------------------- main

async function run(n) {
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-pouch-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  state.child = startServer(state.tmp, port);
  const serverVersion = await waitForServer(state.child, `${base}/`);
  log(`pouchdb-server (express-pouchdb ${serverVersion}) on ${base}, data in ${state.tmp}`);

  const remoteUrl = `${base}/invoices`;
  await request('PUT', remoteUrl);
  const seedStart = performance.now();
  const avgDocBytes = await seed(remoteUrl, n);
  log(`seeded ${n} invoices in ${((performance.now() - seedStart) / 1000).toFixed(2)} s, ` +
    `${avgDocBytes.toFixed(0)} bytes of JSON each; peak RSS so far ${peakRssMb().toFixed(1)} MB`);

  const localPath = path.join(state.tmp, 'consumer');
  state.localDb = new PouchDB(localPath); // leveldb, PouchDB's default in node
  const start = performance.now();
  const result = await PouchDB.replicate(remoteUrl, state.localDb, { batch_size: BATCH_SIZE });
  const wall = (performance.now() - start) / 1000;
  log(`replication ${result.status}: ${result.docs_written} written, ${result.doc_write_failures} failed`);

  const { doc_count: docCount } = await state.localDb.info();
  if (docCount !== n) {
    throw new Error(`the local database holds ${docCount} documents, expected ${n}`);
  }
  const bytes = await settledDiskBytes(localPath);

  return {
    benchmark: 'catch-up, Sales Invoice with 5 rows, PouchDB pull replication (peer)',
    entries: n,
    wall_seconds: round(wall, 2),
    entries_per_second: Math.round(n / wall),
    consumer_peak_rss_mb: round(peakRssMb(), 1),
    disk_bytes_per_document: Math.round(bytes / n),
    avg_doc_json_bytes: Math.round(avgDocBytes),
    pouchdb: PouchDB.version,
    batch_size: BATCH_SIZE,
  };
}

async function main() {
  const n = parseN(process.argv);
  let code = 0;
  try {
    console.log(JSON.stringify(await run(n)));
  } catch (err) {
    // After a signal, the run fails because the server was stopped: not news.
    if (!bailing) log(`failed: ${err.stack ?? err}`);
    code = 1;
  } finally {
    await cleanup();
  }
  if (!bailing) process.exit(code);
}

main();
