// The browser UI against two real headless sites (SPEC F23, F26): the seed
// walk-through, driven by Playwright in Debian's Chromium. Screenshots go
// to target/e2e/ (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { ROOT, api, binary, createAdmin, serveSite, setPassword, tempDir, until } from "./support.mjs";

const PASSWORD = "correct horse battery";
const SHOTS = join(ROOT, "target", "e2e");

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(join(ROOT, "docs", "screenshots"), { recursive: true });
    copyFileSync(file, join(ROOT, "docs", "screenshots", `${name}.png`));
  }
}

async function site(t, prefix) {
  const data = tempDir(prefix);
  t.after(data.remove);
  const keys = createAdmin(data.dir);
  setPassword(data.dir, "admin@example.com", PASSWORD);
  const s = await serveSite(data.dir, ["--sync-interval", "3600"]);
  t.after(s.stop);
  return { ...s, keys, data: data.dir };
}

/** Every page opened, so a failure leaves a picture of each behind. */
const pages = [];

async function signIn(browser, base, email = "admin@example.com", options = { viewport: { width: 1280, height: 800 } }) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  pages.push(page);
  await page.goto(base);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in (the menu itself may be folded away on a narrow screen).
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return page;
}

const go = (page, screen) => page.getByRole("navigation", { name: "Screens" }).getByRole("link", { name: screen, exact: true }).click();

test("the seed walk-through in a browser, against two real sites", { timeout: 180000 }, async (t) => {
  const producer = await site(t, "outpost-producer-");
  const consumer = await site(t, "outpost-consumer-");
  await api(producer.base, producer.keys, "POST", "/api/method/outpost.site.configure", { site_name: "Hub" });
  await api(consumer.base, consumer.keys, "POST", "/api/method/outpost.site.configure", { site_name: "Shop 12" });

  const browser = await launch();
  t.after(() => browser.close());
  try {
    await walkThrough(browser, producer, consumer);
  } catch (e) {
    for (const [i, p] of pages.entries()) await shot(p, `failure-page-${i + 1}`).catch(() => {});
    throw e;
  }
});

function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

test("a clerk (Sales User) raises a Sales Invoice with item rows offline; a manager edits settings and a mapping", { timeout: 120000 }, async (t) => {
  const shopSite = await site(t, "outpost-shop-");
  for (const doc of [["Customer", { customer_name: "Acme" }], ["Item", { item_code: "PEN" }], ["Item", { item_code: "INK" }]]) {
    await api(shopSite.base, shopSite.keys, "POST", `/api/resource/${doc[0]}`, doc[1]);
  }
  // The clerk holds only the role Sales User.
  createAdmin(shopSite.data, "clerk@example.com", "Sales User");
  setPassword(shopSite.data, "clerk@example.com", PASSWORD);
  const browser = await launch();
  t.after(() => browser.close());
  let page = await signIn(browser, shopSite.base, "clerk@example.com");
  try {
    // A Sales Invoice from the generated form: a missing customer is named.
    await go(page, "Documents");
    await page.locator("#doctype-select").selectOption("Sales Invoice");
    await page.getByRole("button", { name: "New Sales Invoice" }).click();
    await page.getByRole("button", { name: "Add row to Items" }).click();
    await page.getByLabel("Item row 1", { exact: true }).fill("PEN");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").getByText(/Customer/).waitFor();
    assert.equal(await page.locator(".field.invalid").count(), 1, "the customer field is marked");

    await page.getByLabel("Customer", { exact: true }).fill("Acme");
    await page.getByLabel("Quantity row 1", { exact: true }).fill("3");
    await page.getByRole("button", { name: "Add row to Items" }).click();
    // A Link field suggests as one types, whatever the case: "in" → INK only.
    const item2 = page.getByLabel("Item row 2", { exact: true });
    await item2.click();
    await item2.fill("in");
    const listId = await item2.getAttribute("list");
    await page.waitForFunction(
      (id) => [...document.querySelectorAll(`[id="${id}"] option`)].map((o) => o.value).join() === "INK",
      listId,
      { timeout: 10000 },
    );
    await item2.fill("INK");
    await page.getByLabel("Quantity row 2", { exact: true }).fill("2");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText("Saved").waitFor();
    // Submit asks first, saying what it means; the dialog's Submit submits.
    await page.getByRole("button", { name: "Submit" }).click();
    const ask = page.getByRole("alertdialog");
    await ask.getByText("can no longer be edited").waitFor();
    await ask.getByRole("button", { name: "Submit" }).click();
    await page.getByRole("status").getByText("Submitted").waitFor();
    await shot(page, "browser-8-sales-invoice");
    const list = await api(shopSite.base, shopSite.keys, "GET", `/api/resource/Sales Invoice?fields=${encodeURIComponent('["name","docstatus"]')}`);
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].docstatus, 1);
    const inv = (await api(shopSite.base, shopSite.keys, "GET", `/api/resource/Sales Invoice/${list.data[0].name}`)).data;
    assert.deepEqual(inv.items.map((i) => [i.item_code, i.qty]), [["PEN", 3], ["INK", 2]]);
    assert.equal(inv.owner, "clerk@example.com", "raised by the clerk's own session");

    // The invoice has a URL: reload keeps it open, Back goes to the list,
    // Forward to the invoice again; the page title names it.
    const name = list.data[0].name;
    const at = `#/documents/Sales%20Invoice/${encodeURIComponent(name)}`;
    assert.ok(page.url().endsWith(at), `the invoice's URL, not ${page.url()}`);
    assert.equal(await page.title(), `${name} — Sales Invoice · Outpost`);
    const form = page.getByRole("form", { name: `Sales Invoice ${name}` });
    await page.reload();
    await form.getByText("Submitted", { exact: true }).waitFor();
    assert.ok(page.url().endsWith(at), "still the invoice after a reload");
    await page.goBack();
    await page.getByRole("region", { name: "Sales Invoice list" }).getByText(name).waitFor();
    assert.ok(page.url().endsWith("#/documents/Sales%20Invoice"), `the list, not ${page.url()}`);
    await page.goForward();
    await form.getByText("Submitted", { exact: true }).waitFor();
    // Cancel asks first; a cancelled invoice is amended into a new draft, at its own URL.
    await form.getByRole("button", { name: "Cancel document" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Cancel document" }).click();
    await form.getByText("Cancelled", { exact: true }).first().waitFor();
    await form.getByRole("button", { name: "Amend" }).click();
    const amended = page.getByRole("form", { name: `Sales Invoice ${name}-1` });
    await amended.getByText("Draft", { exact: true }).first().waitFor();
    assert.ok(page.url().endsWith(`${at}-1`), `the amendment's URL, not ${page.url()}`);
    assert.equal(await amended.getByLabel("Amended From", { exact: true }).inputValue(), name);

    // A screen that is not a clerk's, asked for by its URL, is the Dashboard.
    await page.goto(`${shopSite.base}/#/settings`);
    await page.waitForURL(/#\/dashboard$/);
    // The clerk may not change the site: settings are refused to a Sales User.
    const clerkTry = await page.evaluate(async () => {
      const r = await fetch("/api/method/outpost.site.configure", {
        method: "POST", headers: { "Content-Type": "application/json", "X-Outpost-UI": "1" }, body: JSON.stringify({ site_name: "Clerk's" }),
      });
      return r.status;
    });
    assert.equal(clerkTry, 403);

    // The clerk's menu leads only where a clerk may go; Sync now is theirs
    // to press, and answers (no producer here yet) without a permission error.
    const menu = await page.getByRole("navigation", { name: "Screens" }).getByRole("link").allInnerTexts();
    assert.deepEqual(menu, ["Dashboard", "Documents"], "a clerk's menu");
    await go(page, "Dashboard");
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByRole("status", { name: "Sync result" }).getByText("No Event Producer is set up yet.").waitFor();
    assert.equal(await page.getByRole("alert").count(), 0, "no permission error on the clerk's dashboard");
    assert.equal(await page.getByRole("region", { name: "Consumers" }).count(), 0, "the sites this one serves are a manager's");

    // Settings: name and schedule, by a manager.
    await page.context().close();
    page = await signIn(browser, shopSite.base);
    await go(page, "Settings");
    await page.getByLabel("Site name").fill("Shop 12 Recife");
    await page.getByLabel("Sync interval").fill("30");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByRole("status").getByText("Settings saved").waitFor();
    await page.locator("#site-name").getByText("Shop 12 Recife").waitFor();
    const info = (await api(shopSite.base, shopSite.keys, "GET", "/api/method/outpost.site.info")).message;
    assert.equal(info.sync_interval, 30);

    // Unsaved changes are not dropped without a word: leaving asks, keeping
    // them stays; Ctrl+S saves, and then leaving asks nothing.
    await go(page, "Documents");
    await page.locator("#doctype-select").selectOption("Customer");
    await page.getByRole("region", { name: "Customer list" }).getByRole("link", { name: "Acme" }).click();
    const acme = page.getByRole("form", { name: "Customer Acme" });
    await acme.getByLabel("Territory", { exact: true }).fill("Nordeste");
    await acme.getByRole("button", { name: "Back to list" }).click();
    const guard = page.getByRole("alertdialog", { name: "Discard unsaved changes?" });
    await guard.waitFor();
    await guard.getByRole("button", { name: "Keep as it is" }).click();
    assert.equal(await acme.getByLabel("Territory", { exact: true }).inputValue(), "Nordeste", "the edit is still there");
    await page.keyboard.press("Control+s");
    await page.getByRole("status").getByText("Saved").waitFor();
    const saved = (await api(shopSite.base, shopSite.keys, "GET", "/api/resource/Customer/Acme")).data;
    assert.equal(saved.territory, "Nordeste", "Ctrl+S saved it");
    await acme.getByRole("button", { name: "Back to list" }).click();
    await page.getByRole("region", { name: "Customer list" }).waitFor();
    assert.equal(await page.getByRole("alertdialog").count(), 0, "nothing to discard");

    // A user's roles are check boxes, one per role of the site: the manager
    // gives the clerk Stock User beside Sales User.
    await page.locator("#doctype-select").selectOption("User");
    await page.getByRole("region", { name: "User list" }).getByRole("link", { name: "clerk@example.com" }).click();
    const roles = page.getByRole("group", { name: "Roles" });
    assert.equal(await roles.getByLabel("Sales User").isChecked(), true);
    assert.equal(await roles.getByLabel("Stock User").isChecked(), false);
    await roles.getByLabel("Stock User").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText("Saved").waitFor();
    const clerk = (await api(shopSite.base, shopSite.keys, "GET", "/api/resource/User/clerk@example.com")).data;
    assert.deepEqual(clerk.roles.map((r) => r.role).sort(), ["Sales User", "Stock User"]);
    await page.getByRole("button", { name: "Back to list" }).click();

    // A list as in Desk: how many match, pages through them, sorted by any
    // column; the time is relative, the exact one on hover.
    for (let i = 44; i >= 0; i--) {
      await api(shopSite.base, shopSite.keys, "POST", "/api/resource/Note", { title: `Note ${String(i).padStart(2, "0")}` });
    }
    await page.locator("#doctype-select").selectOption("Note");
    const notes = page.getByRole("region", { name: "Note list" });
    const shown = notes.getByRole("status", { name: "Shown" });
    await shown.getByText("1–20 of 45").waitFor();
    assert.equal(await notes.locator("tbody tr").count(), 20);
    await notes.getByRole("button", { name: "Next" }).click();
    await shown.getByText("21–40 of 45").waitFor();
    await notes.getByRole("button", { name: "Title" }).click();
    await shown.getByText("1–20 of 45").waitFor();
    assert.equal(await notes.locator('th[aria-sort="ascending"]').innerText(), "Title ▲");
    await notes.locator("tbody tr").first().getByText("Note 00").waitFor();
    await notes.getByRole("button", { name: "Title" }).click();
    await notes.locator("tbody tr").first().getByText("Note 44").waitFor();
    const when = notes.locator("tbody tr time").first();
    assert.match(await when.innerText(), /now|second|minute/, "relative time");
    assert.ok((await when.getAttribute("title")).length > 0, "the exact time on hover");
    // Whatever the case: "note 1" finds Note 10 to Note 19.
    await notes.getByRole("button", { name: "+ Add filter" }).click();
    await notes.getByLabel("Filter 1 field").selectOption("title");
    await notes.getByLabel("Title contains").fill("note 1");
    await shown.getByText("1–10 of 10").waitFor();

    // A DocType imported as JSON: bad JSON is refused before it is sent, a
    // good declaration becomes a DocType of this site.
    await go(page, "DocTypes");
    const importForm = page.getByRole("form", { name: "Import a DocType" });
    await importForm.getByLabel("DocType JSON").fill('{"name": "Shelf",');
    await importForm.getByRole("button", { name: "Import" }).click();
    await importForm.getByRole("alert").getByText(/not JSON/).waitFor();
    await importForm.getByLabel("DocType JSON").fill(JSON.stringify({ name: "Shelf", autoname: "field:code", fields: [{ fieldname: "code", label: "Code", fieldtype: "Data", reqd: 1 }] }));
    await importForm.getByRole("button", { name: "Import" }).click();
    await page.getByRole("status").getByText("DocType Shelf imported").waitFor();
    await page.getByLabel("DocType", { exact: true }).selectOption("Shelf");
    await page.getByRole("table", { name: "Fields of Shelf" }).locator('tr[data-field="code"]').waitFor();

    // New keys for a user who has keys say what stops working; kept, nothing changes.
    await go(page, "Users & keys");
    const before = await page.locator('tr[data-user="admin@example.com"] code').innerText();
    await page.getByRole("button", { name: "Generate keys for admin@example.com" }).click();
    const keysAsk = page.getByRole("alertdialog");
    await keysAsk.getByText("stop working at once").waitFor();
    await keysAsk.getByRole("button", { name: "Keep as it is" }).click();
    assert.equal(await page.locator('tr[data-user="admin@example.com"] code').innerText(), before, "the key is unchanged");

    // The mapping editor: a bad row is refused with the reason, a good one saved.
    await go(page, "Document Type Mappings");
    await page.getByRole("button", { name: "New Document Type Mapping" }).click();
    await page.getByLabel("Mapping Name", { exact: true }).fill("Note to ToDo");
    await page.getByLabel("Local Document Type", { exact: true }).fill("ToDo");
    await page.getByLabel("Remote Document Type", { exact: true }).fill("Note");
    await page.getByRole("button", { name: "Add row to Field Mapping" }).click();
    await page.getByLabel("Local Fieldname row 1", { exact: true }).fill("role");
    await page.getByLabel("Remote Fieldname row 1", { exact: true }).fill("title");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").getByText(/role is a Link field/).waitFor();
    await page.getByLabel("Local Fieldname row 1", { exact: true }).fill("description");
    await page.getByLabel("Remote Fieldname row 1", { exact: true }).fill("content");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText("Saved").waitFor();
    await shot(page, "browser-9-mapping");
    const m = (await api(shopSite.base, shopSite.keys, "GET", "/api/resource/Document Type Mapping/Note to ToDo")).data;
    assert.deepEqual(m.field_mapping.map((r) => [r.local_fieldname, r.remote_fieldname]), [["description", "content"]]);
  } catch (e) {
    await shot(page, "failure-clerk").catch(() => {});
    throw e;
  }
});

async function walkThrough(browser, producer, consumer) {
  // A wrong password is refused with a clear message; nothing is shown.
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(producer.base);
  await stranger.getByLabel("Email").fill("admin@example.com");
  await stranger.getByLabel("Password").fill("not the password");
  await stranger.getByRole("button", { name: "Sign in" }).click();
  await stranger.getByRole("alert").getByText("Wrong email or password").waitFor();

  // 1. On the producer: a user with only the role Event Subscriber, and its keys.
  const hub = await signIn(browser, producer.base);
  await go(hub, "Users & keys");
  await hub.getByLabel("New user email").fill("shop12@example.com");
  await hub.getByLabel("New user full name").fill("Shop 12");
  await hub.getByLabel("New user role").selectOption("Event Subscriber");
  await hub.getByRole("button", { name: "Add user" }).click();
  await hub.getByRole("status").getByText("User shop12@example.com added").waitFor();
  await hub.getByRole("button", { name: "Generate keys for shop12@example.com" }).click();
  const apiKey = (await hub.locator("#new-api-key").textContent()).trim();
  const apiSecret = (await hub.locator("#new-api-secret").textContent()).trim();
  assert.match(apiSecret, /^[A-Za-z0-9]{32}$/);
  await shot(hub, "browser-1-generate-keys");

  // 2. On the consumer: an Event Producer for Notes, with those keys.
  const shop = await signIn(browser, consumer.base);
  await go(shop, "Event Producers");
  await shop.getByRole("button", { name: "New Event Producer" }).click();
  await shop.getByLabel("Producer URL", { exact: true }).fill(producer.base);
  await shop.getByLabel("Event Subscriber", { exact: true }).fill("admin@example.com");
  await shop.getByLabel("API Key", { exact: true }).fill(apiKey);
  await shop.getByLabel("API Secret", { exact: true }).fill(apiSecret);
  await shop.getByRole("button", { name: "Add row to Event Producer Document Types" }).click();
  await shop.getByLabel("Document Type row 1", { exact: true }).fill("Note");
  await shop.getByRole("button", { name: "Save" }).click();
  await shop.getByRole("status").getByText("Saved").waitFor();
  const form = shop.getByRole("form", { name: /^Event Producer / });
  await form.getByText("Registered", { exact: true }).waitFor();
  await form.locator(".chip-pending").first().waitFor();
  await shot(shop, "browser-2-event-producer");
  // The secret never comes back to the page.
  assert.equal(await shop.getByLabel("API Secret", { exact: true }).inputValue(), "");
  assert.ok(!(await shop.content()).includes(apiSecret), "the secret is not in the page");

  // 3. On the producer: approve Notes for this consumer.
  await go(hub, "Event Consumers");
  await hub.getByRole("link", { name: consumer.siteId }).click();
  await hub.getByLabel("Approval Status row 1", { exact: true }).selectOption("Approved");
  await hub.getByRole("button", { name: "Save" }).click();
  await hub.getByRole("status").getByText("Saved").waitFor();
  await shot(hub, "browser-3-approve");

  // Background sync paused on the consumer: only the button can bring the note.
  await api(consumer.base, consumer.keys, "POST", "/api/method/outpost.site.set_background_sync", { enabled: false });
  await api(consumer.base, consumer.keys, "POST", "/api/method/outpost.event.sync_now", {});

  // 4. On the producer: a Note.
  await go(hub, "Documents");
  await hub.locator("#doctype-select").selectOption("Note");
  await hub.getByRole("button", { name: "New Note" }).click();
  await hub.getByLabel("Title", { exact: true }).fill("Opening hours");
  await hub.getByLabel("Content", { exact: true }).fill("Open 8 to 18, closed on Sundays");
  await hub.getByRole("button", { name: "Save" }).click();
  await hub.getByRole("status").getByText("Saved").waitFor();

  // 5. On the consumer: Sync now, and the note is here.
  await go(shop, "Dashboard");
  await shop.getByRole("button", { name: "Sync now" }).click();
  const result = shop.getByRole("status", { name: "Sync result" });
  await result.getByText(/1 synced, 0 failed/).waitFor();
  await shop.getByRole("region", { name: "Producers" }).getByText("online").waitFor();
  // Sites go by their names; the address and id are in the tooltip; times are relative.
  assert.match(await result.innerText(), /^Hub: 1 synced/);
  const hubCell = shop.locator(`tr[data-producer="${producer.base}"] td`).first();
  assert.equal(await hubCell.innerText(), "Hub");
  assert.match(await hubCell.getAttribute("title"), new RegExp(`^${producer.base.replace(/[.]/g, "\\.")} · [0-9a-f-]{36}$`));
  assert.match(await shop.locator(`tr[data-producer="${producer.base}"] time`).first().innerText(), /now|second/);
  await shot(shop, "browser-4-sync-now");
  // The picture of the day: the note counted in this minute's entries from
  // the hub, and the sync in the history (kept by the engine).
  const activity = shop.getByRole("region", { name: "Sync activity" });
  await activity.getByRole("figure", { name: "Entries synced per minute" }).getByText(/^[1-9]\d* in 24 h/).waitFor({ timeout: 20000 });
  assert.equal(await activity.locator("canvas").count(), 2, "two charts drawn");
  assert.match(await activity.locator(".u-legend").first().innerText(), /from Hub/);
  const lastRun = activity.getByRole("table", { name: "Recent syncs" }).locator("tbody tr").first();
  assert.equal(await lastRun.locator("td").nth(1).innerText(), "Hub");
  assert.equal(await lastRun.locator("td").nth(2).innerText(), "1", "one entry received");
  await activity.scrollIntoViewIfNeeded();
  await shot(shop, "browser-15-dashboard-activity");
  // The producer's Update Log: DocTypes to choose from (not typed), times relative.
  await go(hub, "Event Update Log");
  const updates = hub.getByRole("region", { name: "Event Update Log" });
  await updates.getByLabel("DocType filter").selectOption("Note");
  await updates.locator("tbody tr").first().locator("time").waitFor();
  // Sites by their names (address and id on hover), the count, a link to the note.
  const newest = updates.locator("tbody tr").first();
  await newest.getByText("Shop 12").waitFor();
  assert.equal(await newest.locator("td").nth(4).innerText(), "Hub (this site)");
  assert.match(await newest.getByText("Shop 12").getAttribute("title"), new RegExp(consumer.siteId));
  assert.match(await updates.getByRole("status", { name: "Shown" }).innerText(), /^1–(\d+) of \1$/);
  assert.match(await newest.locator("td").nth(3).getByRole("link").getAttribute("href"), /#\/documents\/Note\//);
  await updates.getByLabel("DocType filter").selectOption("Customer");
  await updates.getByText("No changes logged for Customer").waitFor();
  await go(shop, "Documents");
  await shop.locator("#doctype-select").selectOption("Note");
  await shop.getByRole("cell", { name: /./ }).first().waitFor();
  const row = shop.locator("#documents-table tbody tr").filter({ hasText: "Opening hours" });
  await row.waitFor();
  await row.getByRole("link").click();
  assert.equal(await shop.getByLabel("Content", { exact: true }).inputValue(), "Open 8 to 18, closed on Sundays");
  await shot(shop, "browser-5-note-arrived");

  // The producer's dashboard: Shop 12 pulled just now, Note approved, nothing behind.
  await go(hub, "Dashboard");
  const shopRow = hub.getByRole("region", { name: "Consumers" }).locator(`tr[data-consumer="${consumer.siteId}"]`);
  await shopRow.getByText("Shop 12").waitFor();
  await shopRow.getByText("online").waitFor();
  assert.match(await shopRow.textContent(), /Note/);

  // 6. A real failure: the producer's Notes gain a field the consumer lacks.
  await api(producer.base, producer.keys, "POST", "/api/method/outpost.doctype.add_custom_field", {
    doctype: "Note",
    field: { fieldname: "shelf", fieldtype: "Data", label: "Shelf" },
  });
  await go(hub, "Documents");
  await hub.locator("#doctype-select").selectOption("Note");
  await hub.getByRole("button", { name: "New Note" }).click();
  await hub.getByLabel("Title", { exact: true }).fill("Stock count");
  await hub.getByLabel("Shelf", { exact: true }).fill("B3");
  await hub.getByRole("button", { name: "Save" }).click();
  await hub.getByRole("status").getByText("Saved").waitFor();

  await go(shop, "Dashboard");
  await shop.getByRole("button", { name: "Sync now" }).click();
  await shop.getByRole("status", { name: "Sync result" }).waitFor();
  await shop.getByRole("region", { name: "Producers" }).locator("td.bad").getByText("1", { exact: true }).waitFor();
  await go(shop, "Event Sync Log");
  await shop.getByLabel("Status filter").selectOption("Failed");
  const failed = shop.locator("tr[data-status=Failed]");
  await failed.first().waitFor();
  assert.equal(await failed.count(), 1);
  await failed.first().getByRole("link").click();
  const detail = shop.getByRole("region", { name: /^Sync log / });
  await detail.getByLabel("Sync error").getByText(/shelf/).waitFor();
  await detail.locator("pre.json").getByText(/"Stock count"/).waitFor();
  await shot(shop, "browser-6-failed-sync-log");

  // 7. The consumer gains the field in its DocTypes screen (a bad name is
  // refused with the reason); Resync turns the entry Synced.
  await go(shop, "DocTypes");
  await shop.getByLabel("DocType", { exact: true }).selectOption("Note");
  const addField = shop.getByRole("form", { name: "Add a field to Note" });
  await addField.getByLabel("Field name").fill("Shelf!");
  await addField.getByRole("button", { name: "Add field" }).click();
  await shop.getByRole("alert").getByText(/Shelf!/).waitFor();
  await addField.getByLabel("Field name").fill("shelf");
  await addField.getByLabel("Field label").fill("Shelf");
  await addField.getByLabel("Field type").selectOption("Data");
  await addField.getByRole("button", { name: "Add field" }).click();
  await shop.getByRole("status").getByText("Field shelf added to Note").waitFor();
  await shop.getByRole("table", { name: "Fields of Note" }).locator('tr[data-field="shelf"]').waitFor();
  await go(shop, "Event Sync Log");
  await failed.first().getByRole("link").click();
  await detail.getByRole("button", { name: "Resync" }).click();
  await detail.locator(".chip-synced").waitFor();
  await shot(shop, "browser-7-resynced");
  const notes = await api(consumer.base, consumer.keys, "GET", `/api/resource/Note?fields=${encodeURIComponent('["title","shelf"]')}&filters=${encodeURIComponent('{"title":"Stock count"}')}`);
  assert.deepEqual(notes.data.map((n) => n.shelf), ["B3"]);
}

test("a conflict between a shop and its hub shows both versions in the Sync Log, and the losing one can be re-applied", { timeout: 120000 }, async (t) => {
  const hub = await site(t, "outpost-hub-");
  const shop = await site(t, "outpost-shop-");
  const subscriber = createAdmin(hub.data, "shop@example.com", "Event Subscriber");
  const shopInfo = (await api(shop.base, shop.keys, "GET", "/api/method/outpost.site.info")).message;
  // Customer both ways: the shop pushes its customers and pulls the hub's.
  await api(shop.base, shop.keys, "POST", "/api/resource/Event Producer", {
    producer_url: hub.base,
    user: "admin@example.com",
    api_key: subscriber.api_key,
    api_secret: subscriber.api_secret,
    producer_doctypes: [{ ref_doctype: "Customer" }],
    push_doctypes: [{ ref_doctype: "Customer" }],
  });
  const consumer = `/api/resource/Event Consumer/${encodeURIComponent(shopInfo.site_id)}`;
  const ec = (await api(hub.base, hub.keys, "GET", consumer)).data;
  await api(hub.base, hub.keys, "PUT", consumer, { consumer_doctypes: ec.consumer_doctypes.map((r) => ({ ...r, status: "Approved" })) });
  const sync = () => api(shop.base, shop.keys, "POST", "/api/method/outpost.event.sync_now", {});
  await sync();
  const pushed = `/api/resource/Event Producer/${encodeURIComponent(`push:${shopInfo.site_id}`)}`;
  const ep = (await api(hub.base, hub.keys, "GET", pushed)).data;
  await api(hub.base, hub.keys, "PUT", pushed, { producer_doctypes: ep.producer_doctypes.map((r) => ({ ...r, status: "Approved" })) });
  await api(shop.base, shop.keys, "POST", "/api/resource/Customer", { customer_name: "Padaria", territory: "Centro" });
  // More lines than a page of the Sync Log holds.
  for (let i = 0; i < 120; i++) {
    await api(shop.base, shop.keys, "POST", "/api/resource/Customer", { customer_name: `Customer ${i}` });
  }
  await sync();
  // Apart: the shop edits, then the hub (later); together again.
  await api(shop.base, shop.keys, "PUT", "/api/resource/Customer/Padaria", { territory: "Norte" });
  await api(hub.base, hub.keys, "PUT", "/api/resource/Customer/Padaria", { territory: "Sul" });
  const result = (await sync()).message;
  assert.equal(result[0].conflicts, 1, JSON.stringify(result));

  const browser = await launch();
  t.after(() => browser.close());
  const page = await signIn(browser, hub.base);
  try {
    await go(page, "Event Sync Log");
    // Paging back in time through every line, with how many there are.
    const total = (await api(hub.base, hub.keys, "POST", "/api/method/outpost.event.sync_log_count", {})).message;
    assert.ok(total > 120, `${total} lines`);
    const log = page.getByRole("region", { name: "Event Sync Log" });
    const shownLines = log.getByRole("status", { name: "Shown" });
    await shownLines.getByText(`1–100 of ${total}`).waitFor();
    await log.getByRole("button", { name: "Older" }).click();
    await shownLines.getByText(`101–${total} of ${total}`).waitFor();
    assert.equal(await log.locator("tbody tr").count(), total - 100);
    await log.getByRole("button", { name: "Newer" }).click();
    await shownLines.getByText(`1–100 of ${total}`).waitFor();
    await page.getByLabel("Status filter").selectOption("Conflict");
    const line = page.locator('tr[data-status="Conflict"]');
    await line.first().waitFor();
    assert.equal(await line.count(), 1, "one conflict on the hub");
    // The line's document links to it; its number opens the line.
    assert.equal(await line.first().getByRole("link", { name: "Padaria" }).getAttribute("href"), "#/documents/Customer/Padaria");
    await line.first().getByRole("link").first().click();
    const both = page.getByRole("table", { name: "Both versions" });
    await both.waitFor();
    const territory = both.locator('tr[data-field="territory"] td');
    assert.deepEqual(await territory.allInnerTexts(), ["territory", "Sul", "Norte"], "the hub's (kept) and the shop's version side by side");
    assert.match(await both.locator("thead").innerText(), /Here \(kept\)[\s\S]*Incoming \(lost\)/);
    assert.match(await page.getByLabel("Sync note").innerText(), /later version wins/);
    await shot(page, "sync-log-conflict");
    await page.getByRole("button", { name: "Re-apply the version that lost" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Re-apply" }).click();
    await page.getByText("Re-applied by admin@example.com").waitFor();
    // From the line to its document.
    await page.getByRole("region", { name: /^Sync log / }).getByRole("link", { name: "Padaria" }).click();
    await page.getByRole("form", { name: "Customer Padaria" }).waitFor();
    assert.ok(page.url().endsWith("#/documents/Customer/Padaria"), page.url());
  } catch (e) {
    await shot(page, "failure-conflict").catch(() => {});
    throw e;
  }
  const now = (await api(hub.base, hub.keys, "GET", "/api/resource/Customer/Padaria")).data;
  assert.equal(now.territory, "Norte", "the shop's version is the hub's document now");
  await sync();
  const onShop = (await api(shop.base, shop.keys, "GET", "/api/resource/Customer/Padaria")).data;
  assert.equal(onShop.territory, "Norte", "and the shop's");
});

test("on a phone (390 px, dark mode) the menu folds behind a button, nothing is cut off, and the colours are dark", { timeout: 120000 }, async (t) => {
  const shopSite = await site(t, "outpost-phone-");
  for (let i = 0; i < 3; i++) {
    await api(shopSite.base, shopSite.keys, "POST", "/api/resource/Note", { title: `A note with a rather long title to wrap, number ${i}` });
  }
  const browser = await launch();
  t.after(() => browser.close());
  const page = await signIn(browser, shopSite.base, "admin@example.com", { viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  try {
    const nav = page.getByRole("navigation", { name: "Screens" });
    const menu = page.getByRole("button", { name: "Menu" });
    assert.equal(await nav.isVisible(), false, "the menu is folded");
    assert.equal(await menu.getAttribute("aria-expanded"), "false");
    await menu.click();
    assert.equal(await nav.isVisible(), true, "the button opens it");
    await nav.getByRole("link", { name: "Documents", exact: true }).click();
    await page.locator("#doctype-select").selectOption("Note");
    await page.getByRole("region", { name: "Note list" }).getByText("number 0").waitFor();
    assert.equal(await nav.isVisible(), false, "choosing a screen folds it again");
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 390, `the page is ${wide} px wide at 390: something is cut off`);
    // Dark mode follows the OS: the cards are dark, their text light.
    const [bg, fg] = await page.locator(".card").first().evaluate((el) => {
      const s = getComputedStyle(el);
      return [s.backgroundColor, getComputedStyle(document.documentElement).color];
    });
    const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
    assert.ok(lum(bg) < 0.3, `a dark card, not ${bg}`);
    assert.ok(lum(fg) > 0.7, `light text, not ${fg}`);
    await shot(page, "browser-10-phone-dark");
  } catch (e) {
    await shot(page, "failure-phone").catch(() => {});
    throw e;
  }
});

test("a list of 100,000 ToDos pages, sorts, searches and filters with the count shown, each answer timed", { timeout: 240000 }, async (t) => {
  const data = tempDir("outpost-big-list-");
  t.after(data.remove);
  const keys = createAdmin(data.dir);
  setPassword(data.dir, "admin@example.com", PASSWORD);
  // The seed's rule for ToDo i: status Open/Closed/Cancelled by i % 3,
  // priority Low/Medium/High by ⌊i / 3⌋ % 3, date 2026-(i % 12 + 1)-(i % 28 + 1),
  // description "Check <invoice|stock|delivery|payment|visit by i % 5> number i".
  execFileSync(binary("outpostd"), ["seed", "--data-dir", data.dir, "--doctype", "ToDo", "--count", "100000", "--batch", "5000"], {
    env: { ...process.env, OUTPOST_LOG: "warn" },
  });
  const expected = (pred) => Array.from({ length: 100000 }, (_, i) => i).filter(pred).length;
  const s = await serveSite(data.dir, ["--sync-interval", "3600"]);
  t.after(s.stop);
  const browser = await launch();
  t.after(() => browser.close());
  const page = await signIn(browser, s.base);
  // Every list and count call the screen makes, with the time its answer took.
  const timed = [];
  page.on("requestfinished", (req) => {
    const url = decodeURIComponent(req.url());
    if (!url.includes("/api/resource/ToDo") && !url.includes("get_count")) return;
    const { requestStart, responseEnd } = req.timing();
    const what = url.includes("get_count") ? `count ${req.postData()}` : `page ${url.split("?")[1]}`;
    timed.push({ ms: Math.round(responseEnd - requestStart), what });
  });
  const list = page.getByRole("region", { name: "ToDo list" });
  const shown = list.getByRole("status", { name: "Shown" });
  const step = async (what, fn) => {
    const from = timed.length;
    await fn();
    for (const x of timed.slice(from)) console.log(`[list API] ${what}: ${x.ms} ms — ${x.what.slice(0, 160)}`);
  };
  try {
    await step("first page", async () => {
      await go(page, "Documents");
      await page.locator("#doctype-select").selectOption("ToDo");
      await shown.getByText("1–20 of 100,000", { exact: true }).waitFor();
    });
    await step("next page", async () => {
      await list.getByRole("button", { name: "Next" }).click();
      await shown.getByText("21–40 of 100,000").waitFor();
    });
    await step("last page", async () => {
      await list.getByRole("button", { name: "Last" }).click();
      await shown.getByText("99,981–100,000 of 100,000").waitFor();
      assert.equal(await list.locator("tbody tr").count(), 20);
    });
    await step("500 a page", async () => {
      await list.getByRole("button", { name: "First" }).click();
      await list.getByLabel("Per page").selectOption("500");
      await shown.getByText("1–500 of 100,000").waitFor();
      assert.equal(await list.locator("tbody tr").count(), 500);
      await list.getByLabel("Per page").selectOption("20");
      await shown.getByText("1–20 of 100,000", { exact: true }).waitFor();
    });
    const firstStatus = () => list.locator("tbody tr").first().locator("td").nth(1).innerText();
    await step("sort by status", async () => {
      await list.getByRole("button", { name: "Status" }).first().click();
      await list.locator('th[aria-sort="ascending"]').getByText("Status").waitFor();
      await until("Cancelled first", async () => (await firstStatus()) === "Cancelled");
      await list.getByRole("button", { name: "Status" }).first().click();
      await list.locator('th[aria-sort="descending"]').getByText("Status").waitFor();
      await until("Open first", async () => (await firstStatus()) === "Open");
      // And back to the newest first, as the list opened.
      const modified = list.getByRole("button", { name: "Modified" });
      await modified.click();
      await list.locator('th[aria-sort="ascending"]').getByText("Modified").waitFor();
      await modified.click();
      await list.locator('th[aria-sort="descending"]').getByText("Modified").waitFor();
    });
    // The search box: every word, in any case, in the name or any text field.
    await step("search", async () => {
      await list.getByLabel("Search ToDo").fill("PAYMENT 4242");
      const count = (await api(s.base, keys, "POST", "/api/method/frappe.client.get_count", { doctype: "ToDo", search: "PAYMENT 4242" })).message;
      assert.ok(count >= 1 && count < 100, `a handful of ToDos match, not ${count}`);
      await shown.getByText(`1–${Math.min(20, count)} of ${count.toLocaleString("en-US")}`, { exact: true }).waitFor();
      for (const row of await list.locator("tbody tr").allInnerTexts()) assert.match(row, /payment/i);
      await list.getByLabel("Search ToDo").fill("");
      await shown.getByText("1–20 of 100,000", { exact: true }).waitFor();
    });
    // Several filters at once, each with its widget: two Select dropdowns, a date range.
    await step("filters", async () => {
      await list.getByRole("button", { name: "+ Add filter" }).click();
      await list.getByLabel("Filter 1 field").selectOption("status");
      await list.getByLabel("Status is").selectOption("Open");
      const open = expected((i) => i % 3 === 0);
      await shown.getByText(`1–20 of ${open.toLocaleString("en-US")}`, { exact: true }).waitFor();
      await list.getByRole("button", { name: "+ Add filter" }).click();
      await list.getByLabel("Filter 2 field").selectOption("priority");
      await list.getByLabel("Priority is").selectOption("High");
      const high = expected((i) => i % 3 === 0 && Math.floor(i / 3) % 3 === 2);
      await shown.getByText(`1–20 of ${high.toLocaleString("en-US")}`, { exact: true }).waitFor();
      await list.getByRole("button", { name: "+ Add filter" }).click();
      await list.getByLabel("Filter 3 field").selectOption("date");
      await list.getByLabel("Date from").fill("2026-04-01");
      await list.getByLabel("Date to").fill("2026-04-30");
      const april = expected((i) => i % 3 === 0 && Math.floor(i / 3) % 3 === 2 && i % 12 === 3);
      await shown.getByText(`1–20 of ${april.toLocaleString("en-US")}`, { exact: true }).waitFor();
      for (const row of await list.locator("tbody tr").allInnerTexts()) assert.match(row, /^\S+\tOpen\t/, `an Open ToDo: ${row}`);
      await shot(page, "browser-11-todo-filters");
      await list.getByRole("button", { name: /Remove filter 2/ }).click();
      const openApril = expected((i) => i % 3 === 0 && i % 12 === 3);
      await shown.getByText(`1–20 of ${openApril.toLocaleString("en-US")}`, { exact: true }).waitFor();
    });
    const slow = timed.filter((x) => x.what.startsWith("page") && x.ms >= 200);
    console.log(`[list API] ${timed.length} calls; pages over 200 ms: ${slow.length ? slow.map((x) => x.ms).join(", ") : "none"}`);
  } catch (e) {
    await shot(page, "failure-big-list").catch(() => {});
    throw e;
  }
});

/** Presses Tab until the focused element's accessible name is `name` (a
 * keyboard user moving through the page); fails after `max` presses. */
async function tabTo(page, name, max = 120) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return "";
      const label = el.getAttribute("aria-label") || (el.labels && el.labels[0] ? el.labels[0].innerText : "");
      return (label || el.innerText || el.getAttribute("value") || "").trim();
    });
    if (focused === name) return;
  }
  throw new Error(`${name} is not reachable with Tab`);
}

/** A hub, and a shop that pushes its Sales Invoices to it (approved), with a
 * clerk, a customer and two items of its own. */
async function shopAndHub(t) {
  const hub = await site(t, "outpost-hub-");
  const shop = await site(t, "outpost-shop-");
  await api(hub.base, hub.keys, "POST", "/api/method/outpost.site.configure", { site_name: "Hub" });
  await api(shop.base, shop.keys, "POST", "/api/method/outpost.site.configure", { site_name: "Shop 7" });
  const subscriber = createAdmin(hub.data, "shop7@example.com", "Event Subscriber");
  for (const [doctype, doc] of [
    ["Customer", { customer_name: "Acme" }],
    ["Item", { item_code: "PEN", item_name: "Blue pen" }],
    ["Item", { item_code: "INK", item_name: "Ink bottle" }],
  ]) {
    await api(shop.base, shop.keys, "POST", `/api/resource/${doctype}`, doc);
  }
  await api(shop.base, shop.keys, "POST", "/api/resource/Event Producer", {
    producer_url: hub.base,
    user: "admin@example.com",
    api_key: subscriber.api_key,
    api_secret: subscriber.api_secret,
    push_doctypes: [{ ref_doctype: "Sales Invoice" }],
  });
  await api(shop.base, shop.keys, "POST", "/api/method/outpost.event.sync_now", {});
  const shopId = (await api(shop.base, shop.keys, "GET", "/api/method/outpost.site.info")).message.site_id;
  const pushed = `/api/resource/Event Producer/${encodeURIComponent(`push:${shopId}`)}`;
  const ep = (await api(hub.base, hub.keys, "GET", pushed)).data;
  await api(hub.base, hub.keys, "PUT", pushed, { producer_doctypes: ep.producer_doctypes.map((r) => ({ ...r, status: "Approved" })) });
  createAdmin(shop.data, "clerk@example.com", "Sales User");
  setPassword(shop.data, "clerk@example.com", PASSWORD);
  return { hub, shop };
}

/** The invoice as the hub holds it. */
async function onHub(hub, name) {
  return (await api(hub.base, hub.keys, "GET", `/api/resource/Sales Invoice/${encodeURIComponent(name)}`)).data;
}

test("a clerk raises, submits and syncs a Sales Invoice with the keyboard alone (1280×800) and by touch on a phone (390×844); Item Name, Amounts and Grand Total fill themselves and the hub holds it Submitted", { timeout: 180000 }, async (t) => {
  const { hub, shop } = await shopAndHub(t);
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  pages.push(page);
  try {
    // Sign in: Tab, type, Enter — no pointer anywhere in this test.
    await page.goto(shop.base);
    await tabTo(page, "Email");
    await page.keyboard.type("clerk@example.com");
    await tabTo(page, "Password");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();

    await tabTo(page, "Documents");
    await page.keyboard.press("Enter");
    await page.locator("#doctype-select").waitFor();
    await tabTo(page, "DocType");
    await page.keyboard.type("Sales Invoice");
    await page.getByRole("region", { name: "Sales Invoice list" }).waitFor();
    await tabTo(page, "New Sales Invoice");
    await page.keyboard.press("Enter");
    await tabTo(page, "Customer");
    await page.keyboard.type("Acme");
    for (const [row, item, qty, rate] of [[1, "PEN", "3", "2.5"], [2, "INK", "2", "4"]]) {
      await tabTo(page, "Add row to Items");
      await page.keyboard.press("Enter");
      await tabTo(page, `Item row ${row}`);
      await page.keyboard.type(item);
      await tabTo(page, `Quantity row ${row}`);
      await page.keyboard.press("Control+a");
      await page.keyboard.type(qty);
      await tabTo(page, `Rate row ${row}`);
      await page.keyboard.type(rate);
    }
    await page.keyboard.press("Control+s");
    await page.getByRole("status").getByText("Saved").waitFor();
    // What the engine computed on save: names from the Items, amounts, the total.
    const field = (label) => page.getByLabel(label, { exact: true }).inputValue();
    assert.equal(await field("Item Name row 1"), "Blue pen");
    assert.equal(await field("Item Name row 2"), "Ink bottle");
    assert.equal(await field("Amount row 1"), "7.5");
    assert.equal(await field("Amount row 2"), "8");
    assert.equal(await field("Grand Total"), "15.5");
    assert.equal(await page.getByLabel("Grand Total", { exact: true }).isDisabled(), true, "a computed field is not typed into");

    await tabTo(page, "Submit");
    await page.keyboard.press("Enter");
    const ask = page.getByRole("alertdialog");
    await ask.getByText("can no longer be edited").waitFor();
    await tabTo(page, "Submit", 10);
    await page.keyboard.press("Enter");
    await page.getByRole("status").getByText("Submitted").waitFor();
    const form = page.getByRole("form", { name: /^Sales Invoice SINV-/ });
    await form.locator(".chip", { hasText: "Submitted" }).first().waitFor();
    // Its Status follows: a submitted invoice is Unpaid until paid.
    await form.locator(".chip", { hasText: "Unpaid" }).waitFor();
    const name = (await form.getAttribute("aria-label")).replace("Sales Invoice ", "");
    await shot(page, "browser-12-clerk-invoice-keyboard");

    // Sync now, from the keyboard: the invoice goes to the hub.
    await tabTo(page, "Dashboard");
    await page.keyboard.press("Enter");
    await tabTo(page, "Sync now");
    await page.keyboard.press("Enter");
    // Two changes: the invoice made, then submitted.
    await page.getByRole("status", { name: "Sync result" }).getByText("Hub: 2 sent, nothing new received").waitFor();
    const hubRow = page.getByRole("region", { name: "Producers" }).locator("tbody tr").first();
    await hubRow.getByText("online").waitFor();
    await hubRow.getByText(/0 changes waiting to be sent/).waitFor();
    const there = await onHub(hub, name);
    assert.equal(there.docstatus, 1, "submitted on the hub too");
    assert.equal(there.status, "Unpaid");
    assert.equal(there.grand_total, 15.5);
    assert.deepEqual(there.items.map((i) => [i.item_code, i.item_name, i.qty, i.rate, i.amount]), [["PEN", "Blue pen", 3, 2.5, 7.5], ["INK", "Ink bottle", 2, 4, 8]]);

    // The hub's manager sees it as the clerk left it.
    const hubPage = await signIn(browser, hub.base);
    await hubPage.goto(`${hub.base}/#/documents/Sales%20Invoice/${encodeURIComponent(name)}`);
    const hubForm = hubPage.getByRole("form", { name: `Sales Invoice ${name}` });
    await hubForm.locator(".chip", { hasText: "Submitted" }).first().waitFor();
    assert.equal(await hubPage.getByLabel("Grand Total", { exact: true }).inputValue(), "15.5");
    await shot(hubPage, "browser-13-invoice-on-hub");

    // The same on a phone, by touch: the menu folds, the form is one column.
    const phone = await signIn(browser, shop.base, "clerk@example.com", { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const menu = async (screen) => {
      await phone.getByRole("button", { name: "Menu" }).tap();
      await phone.getByRole("navigation", { name: "Screens" }).getByRole("link", { name: screen, exact: true }).tap();
    };
    await menu("Documents");
    await phone.locator("#doctype-select").selectOption("Sales Invoice");
    await phone.getByRole("button", { name: "New Sales Invoice" }).tap();
    await phone.getByLabel("Customer", { exact: true }).fill("Acme");
    await phone.getByRole("button", { name: "Add row to Items" }).tap();
    await phone.getByLabel("Item row 1", { exact: true }).fill("INK");
    await phone.getByLabel("Quantity row 1", { exact: true }).fill("5");
    await phone.getByLabel("Rate row 1", { exact: true }).fill("4");
    await phone.getByRole("button", { name: "Save" }).tap();
    await phone.getByRole("status").getByText("Saved").waitFor();
    assert.equal(await phone.getByLabel("Item Name row 1", { exact: true }).inputValue(), "Ink bottle");
    assert.equal(await phone.getByLabel("Grand Total", { exact: true }).inputValue(), "20");
    await phone.getByRole("button", { name: "Submit" }).tap();
    await phone.getByRole("alertdialog").getByRole("button", { name: "Submit" }).tap();
    const phoneForm = phone.getByRole("form", { name: /^Sales Invoice SINV-/ });
    await phoneForm.locator(".chip", { hasText: "Submitted" }).first().waitFor();
    const second = (await phoneForm.getAttribute("aria-label")).replace("Sales Invoice ", "");
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 390, `the invoice form is ${wide} px wide at 390: something is cut off`);
    await shot(phone, "browser-14-clerk-invoice-phone");
    await menu("Dashboard");
    await phone.getByRole("button", { name: "Sync now" }).tap();
    await phone.getByRole("status", { name: "Sync result" }).getByText("Hub: 2 sent, nothing new received").waitFor();
    const secondThere = await onHub(hub, second);
    assert.equal(secondThere.docstatus, 1);
    assert.equal(secondThere.grand_total, 20);
  } catch (e) {
    for (const [i, p] of pages.entries()) await shot(p, `failure-keyboard-${i + 1}`).catch(() => {});
    throw e;
  }
});
