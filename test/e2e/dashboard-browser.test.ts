/**
 * The network capabilities dashboard in a real browser: headless Debian chromium (playwright-core)
 * against a real OrchestratorPool refreshing over gRPC/TLS from fake orchestrators. Checks that the
 * page renders orchestrators and capabilities, escapes names from the network, loads nothing from
 * elsewhere, and updates live (no reload) when an orchestrator fails, goes away, comes back, and when a
 * model goes cold.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Without it the test fails when `CI` is set
 * and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../../src/gateway/capabilities.ts";
import {
  createDashboard,
  createPoolDashboardSource,
  type Dashboard,
} from "../../src/gateway/dashboard/index.ts";
import {
  createGrpcOrchestratorClient,
  type GrpcOrchestratorClient,
  OrchestratorPool,
  staticSource,
} from "../../src/gateway/discovery/index.ts";
import { type FakeOrchestrator, startFakeOrchestrator } from "../../src/gateway/discovery/testing.ts";
import { Suspender } from "../../src/gateway/selection/index.ts";

const CHROMIUM = "/usr/bin/chromium";
const T2I = "stabilityai/sd-turbo";
const HOSTILE = '<img src=x onerror="window.__xss=1">';
const chromiumMissing = !existsSync(CHROMIUM);

/** Flags the fakes read on every call. */
const world = { aWarm: true, aInUse: 0, bDown: false };

function infoA(url: string) {
  return {
    transcoder: url,
    address: new Uint8Array(20).fill(0xa1),
    priceInfo: { pricePerUnit: 1n, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      version: "0.9.0",
      constraints: {
        PerCapability: {
          [CAPABILITY.TextToImage]: {
            models: { [T2I]: { warm: world.aWarm, capacity: 4, capacityInUse: world.aInUse } },
          },
        },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: T2I, pricePerUnit: 3n, pixelsPerUnit: 2n },
    ],
  };
}

function infoB(url: string) {
  return {
    transcoder: url,
    address: new Uint8Array(20).fill(0xb2),
    priceInfo: { pricePerUnit: 2n, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([
        ...DEFAULT_CAPABILITIES,
        CAPABILITY.TextToImage,
        CAPABILITY.LLM,
        CAPABILITY.BYOC,
      ]),
      capacities: { [CAPABILITY.BYOC]: 2 },
      constraints: {
        PerCapability: {
          [CAPABILITY.TextToImage]: { models: { [T2I]: { warm: false, capacity: 1 } } },
          [CAPABILITY.LLM]: { models: { [HOSTILE]: { warm: true, capacity: 2 } } },
        },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.BYOC, constraint: "echo", pricePerUnit: 5_000_000_000n, pixelsPerUnit: 1n },
    ],
  };
}

describe("dashboard in a browser (chromium, real pool over gRPC)", {
  skip:
    !process.env.CI && chromiumMissing
      ? `${CHROMIUM} is missing (apt-get install -y chromium); set CI to make this a failure`
      : false,
}, () => {
  let a: FakeOrchestrator;
  let b: FakeOrchestrator;
  let c: FakeOrchestrator;
  let grpc: GrpcOrchestratorClient;
  let pool: OrchestratorPool;
  let source: ReturnType<typeof createPoolDashboardSource>;
  let dashboard: Dashboard;
  let server: Server;
  let base: string;
  let userDataDir: string;
  let context: BrowserContext | undefined;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];

  before(async () => {
    if (chromiumMissing) return;
    a = await startFakeOrchestrator((_r, { url }) => infoA(url));
    b = await startFakeOrchestrator((_r, { url }) => {
      if (world.bDown) throw new ConnectError("orchestrator is restarting", Code.Unavailable);
      return infoB(url);
    });
    c = await startFakeOrchestrator((_r, { url }) => ({ ...infoA(url), capabilitiesPrices: [] }));
    grpc = createGrpcOrchestratorClient({ connectTimeoutMs: 1_000 });
    const suspender = new Suspender();
    // The adapter is created after the pool, so the pool's events go through this indirection.
    let observe: (e: Parameters<typeof source.observe>[0]) => void = () => {};
    pool = new OrchestratorPool({
      source: staticSource([a.url, b.url, c.url]),
      fetchInfo: grpc.getOrchestrator,
      suspender,
      refreshIntervalMs: 150,
      callTimeoutMs: 1_500,
      onEvent: (e) => observe(e),
    });
    source = createPoolDashboardSource({ pool, suspender, intervalMs: 100 });
    observe = source.observe;
    dashboard = createDashboard({ source });
    server = createServer((req, res) => {
      if (!dashboard.handle(req, res)) {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool.start();

    userDataDir = mkdtempSync(join(tmpdir(), "tributary-dashboard-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    dashboard?.close();
    source?.close();
    pool?.close();
    grpc?.close();
    server?.closeAllConnections();
    if (server) await new Promise((r) => server.close(r));
    for (const o of [a, b, c]) await o?.close();
  });

  const orchRow = (url: string, health: string) => `#orchs tr[data-url="${url}"][data-health="${health}"]`;
  const capRow = (key: string, warm: number, cold: number) =>
    `#caps tr[data-key="${key}"][data-warm-count="${warm}"][data-cold-count="${cold}"]`;

  test("renders orchestrators and capabilities, then follows failures, recovery and warm/cold live", async () => {
    assert.ok(
      !chromiumMissing,
      `${CHROMIUM} is missing: install it with "apt-get install -y chromium" (CI is set, so this is a failure)`,
    );
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector(orchRow(a.url, "healthy"));
    await page.waitForSelector(orchRow(b.url, "healthy"));
    await page.waitForSelector(orchRow(c.url, "healthy"));
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 2, 1));
    await page.waitForSelector(`#conn[data-state="live"]`);

    // Prices in human units, per capability and per orchestrator.
    const t2i = (await page.locator(`#caps tr[data-key="text-to-image/${T2I}"]`).textContent()) ?? "";
    assert.match(t2i, /1\.5 wei\/pixel/);
    assert.match(t2i, /1,500,000 wei per megapixel/);
    const byoc = (await page.locator(`#caps tr[data-key="byoc/echo"]`).textContent()) ?? "";
    assert.match(byoc, /5 gwei\/second/);

    // A model id from the network is shown as text, never run as markup.
    const hostile = page.locator(`#orchs li[data-key="llm/${HOSTILE.replaceAll('"', '\\"')}"]`);
    assert.match((await hostile.textContent()) ?? "", /<img src=x onerror=/);
    assert.equal(await page.evaluate("window.__xss"), undefined);
    assert.equal(await page.locator("#orchs img, #caps img").count(), 0);

    // Let a few refreshes accumulate history, then take the screenshot for a human look.
    world.aInUse = 2;
    await page.locator(`#orchs tr[data-url="${a.url}"]`, { hasText: "2 / 4" }).waitFor();
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });

    // No reload from here on: the marker would vanish with a new document.
    await page.evaluate("window.__sameDocument = true");

    world.bDown = true;
    await page.waitForSelector(orchRow(b.url, "unreachable"));
    assert.match(
      (await page.locator(orchRow(b.url, "unreachable")).textContent()) ?? "",
      /orchestrator is restarting/,
    );
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 2, 0));
    await page.waitForSelector(`#caps li[data-url="${b.url}"][data-health="unreachable"]`);

    world.bDown = false;
    await page.waitForSelector(orchRow(b.url, "healthy"));
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 2, 1));

    await c.close();
    await page.waitForSelector(orchRow(c.url, "unreachable"));
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 1, 1));

    world.aWarm = false;
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 0, 2));
    await page.waitForSelector(
      `#orchs tr[data-url="${a.url}"] li[data-key="text-to-image/${T2I}"][data-warm="false"]`,
    );
    world.aWarm = true;
    await page.waitForSelector(capRow(`text-to-image/${T2I}`, 1, 1));

    assert.equal(await page.evaluate("window.__sameDocument"), true);
    const foreign = requests.filter((u) => !u.startsWith(`${base}/`));
    assert.deepEqual(foreign, [], "nothing loads from another origin");
    assert.deepEqual(problems, [], "no script errors or CSP violations");
  });
});
