/**
 * The dashboard's Live runners table in a real browser (headless chromium, as dashboard-browser.test.ts):
 * hidden while the state has no `runners`, then one row per runner with its state, capacity and price,
 * names from the network shown as text, updated live.
 *
 * Needs /usr/bin/chromium. Without it the test fails when `CI` is set and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createDashboard, type Dashboard, type DashboardState } from "../../src/gateway/dashboard/index.ts";
import type { DashboardRunner } from "../../src/gateway/discovery/runners.ts";

const CHROMIUM = "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM);
const HOSTILE = '<img src=x onerror="window.__xss=1">';

let state: DashboardState = { version: 1, generatedAt: Date.now(), orchestrators: [], capabilities: [] };
const listeners = new Set<(s: DashboardState) => void>();
const publish = (next: Omit<DashboardState, "version" | "generatedAt">) => {
  state = { ...next, version: state.version + 1, generatedAt: Date.now() };
  for (const l of listeners) l(state);
};
const runner = (over: Partial<DashboardRunner>): DashboardRunner => ({
  orchestrator: "https://o1:8935",
  state: "ok",
  app: "demo/echo",
  route: "echo-1",
  mode: "persistent",
  url: "https://o1:8935/apps/echo-1/session",
  capacity: 2,
  capacityUsed: 0,
  capacityAvailable: 2,
  ...over,
});

let dashboard: Dashboard;
let server: Server;
let context: BrowserContext;
let page: Page;
let dir = "";

before(async () => {
  if (missing) return;
  dashboard = createDashboard({
    source: {
      snapshot: () => state,
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    },
  });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  dir = mkdtempSync(join(tmpdir(), "tributary-runners-chromium-"));
  context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
});
after(async () => {
  await context?.close();
  dashboard?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("live runners: hidden without runners, then rows with state, capacity and price, live", {
  skip: missing && !process.env.CI ? "no /usr/bin/chromium" : false,
}, async () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await page.goto(`${base}/dashboard`);
  await page.waitForSelector("body[data-version='1']");
  assert.equal(await page.isHidden("#runners-section"), true, "no runners listed: no section");

  publish({
    orchestrators: [],
    capabilities: [],
    runners: [
      runner({}),
      runner({
        app: HOSTILE,
        route: "paid-1",
        mode: "single-shot",
        state: "unreachable",
        price: "1000 wei per seconds",
        capacity: 1,
        capacityUsed: 1,
      }),
    ],
  });
  await page.waitForSelector("#runners tbody tr[data-route='paid-1']");
  assert.equal(await page.isVisible("#runners-section"), true);
  const rows = await page.$$eval("#runners tbody tr", (trs) =>
    trs.map((tr) => [...tr.children].map((c) => (c.textContent ?? "").trim())),
  );
  assert.deepEqual(rows[0]?.slice(1, 5), ["persistent", "ready", "0 / 2", "free"]);
  assert.deepEqual(rows[1]?.slice(1, 5), ["single-shot", "unreachable", "1 / 1", "1000 wei per seconds"]);
  assert.ok(rows[1]?.[0]?.includes(HOSTILE), "a hostile app name is text");
  assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);

  publish({ orchestrators: [], capabilities: [], runners: [runner({ capacityUsed: 2 })] });
  await page.locator("#runners tbody tr").nth(1).waitFor({ state: "detached" });
  assert.equal(await page.textContent("#runners tbody tr td:nth-child(4)"), "2 / 2");
});
