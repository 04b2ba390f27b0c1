/**
 * "What this gateway experienced" end to end: a real offchain gateway in front of two real
 * orchestrators with SDK containers (text-reverse answers, "broken" fails with a 500 everywhere)
 * runs a few jobs; the dashboard in Debian chromium shows the per-capability and per-orchestrator
 * charts with data, the success rates, and the failures with their cause in words; sorting and the
 * filters work on the experience tables; screenshots at desktop and phone widths are saved. The
 * gateway is then restarted on the same data directory and the charts are still there.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Without it the page checks fail when `CI`
 * is set and are skipped otherwise (the restart check runs either way).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { type ExplorerView, startExplorer } from "../../src/gateway/explorer/index.ts";
import type { ExperienceView } from "../../src/gateway/history/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";

const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = !existsSync(CHROMIUM);

function register(orch: RunningOrchestrator, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}/capability/register`,
      { method: "POST", headers: { authorization: "s3cret" }, ca: orch.cert, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("dashboard: what the gateway experienced, kept across a restart", () => {
  const dirs: string[] = [];
  const orchs: RunningOrchestrator[] = [];
  let reverse: RunningRunner;
  let broken: RunningRunner;
  let gw: RunningGateway | undefined;
  let historyDir: string;

  before(async () => {
    reverse = await startRunner(textReverse, { port: 0 });
    broken = await startRunner(
      defineBatchPipeline({
        name: "broken",
        run: () => {
          throw new Error("model weights missing");
        },
      }),
      { port: 0 },
    );
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), "dash-xp-"));
      dirs.push(dir);
      const aiModels = join(dir, "aiModels.json");
      writeFileSync(aiModels, "[]");
      const orch = await startOrchestrator({
        port: 0,
        aiModelsPath: aiModels,
        orchSecret: "s3cret",
        dataDir: dir,
        reload: { sighup: false },
      });
      orchs.push(orch);
      for (const [name, url] of [
        ["text-reverse", reverse.url],
        ["broken", broken.url],
      ])
        assert.equal(await register(orch, { name, url, capacity: 4, price_per_unit: 0 }), 200);
    }
    for (const orch of orchs)
      await until("capabilities to be advertised", () => {
        const keys = orch.registry.advertised().map((a) => a.key);
        return ["byoc/text-reverse", "byoc/broken"].every((k) => keys.includes(k));
      });
    historyDir = mkdtempSync(join(tmpdir(), "dash-xp-gw-"));
    dirs.push(historyDir);
  });

  after(async () => {
    await gw?.close();
    for (const o of orchs) await o.close();
    await Promise.all([reverse?.close(), broken?.close()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const start = () => startGateway({ port: 0, discovery: { orchAddr: orchs.map((o) => o.url) }, historyDir });
  const experience = async (g: RunningGateway) =>
    (await (await fetch(`${g.url}/dashboard/api/experience`)).json()) as ExperienceView;
  const post = (g: RunningGateway, path: string, body: unknown) =>
    fetch(`${g.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  test("jobs show as charts, rates and failures in words; a restart keeps them", async () => {
    gw = await start();
    for (let i = 0; i < 6; i++) {
      const r = await post(gw, "/text-reverse", { text: `job ${i}` });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    const bad = await post(gw, "/broken", {});
    assert.equal(bad.status, 502, "every orchestrator failed the job");
    await bad.arrayBuffer();

    const v = await experience(gw);
    const hour = v.spans.find((s) => s.name === "hour");
    const rev = hour?.capabilities.find((c) => c.key === "byoc/text-reverse");
    assert.deepEqual([rev?.count, rev?.ok, rev?.failed, rev?.successRate], [6, 6, 0, 1]);
    assert.ok((rev?.p50Ms ?? 0) > 0 && (rev?.p95Ms ?? 0) >= (rev?.p50Ms ?? 0), "latency measured");
    const brk = hour?.capabilities.find((c) => c.key === "byoc/broken");
    assert.deepEqual([brk?.count, brk?.failed, brk?.successRate], [2, 2, 0], "one attempt per orchestrator");
    assert.equal(hour?.orchestrators.length, 2);
    assert.equal(v.recentFailures.length, 2);
    assert.ok(
      v.recentFailures.every((f) => f.capability === "byoc/broken" && /HTTP 500/.test(f.cause)),
      JSON.stringify(v.recentFailures),
    );
    assert.ok(
      v.recentFailures.every((f) => !f.cause.includes("{")),
      "the cause in words, not JSON",
    );
    assert.equal(v.persisted, true);

    if (chromiumMissing) assert.ok(!process.env.CI, `${CHROMIUM} is missing (apt-get install -y chromium)`);
    else await checkPage(gw.url);

    // Restart on the same data directory: the history is written on close and read on start.
    await gw.close();
    gw = await start();
    const again = await experience(gw);
    const rev2 = again.spans[0]?.capabilities.find((c) => c.key === "byoc/text-reverse");
    assert.deepEqual([rev2?.count, rev2?.ok], [6, 6], "the counts survived the restart");
    assert.equal(again.recentFailures.length, 2, "the failures too");
    if (!chromiumMissing) {
      const b = await open(`${gw.url}/dashboard`);
      await b.page.waitForSelector(
        '#xp-caps tr[data-key="byoc/text-reverse"][data-count="6"] svg.bars[data-nonzero="1"]',
      );
      await b.close();
    }
  });

  test("the explorer asks each orchestrator for its BYOC free slots: the 4 it says, not 1", async () => {
    await using explorer = await startExplorer({
      port: 0,
      orchestrators: orchs.map((o) => o.url),
      intervalMs: 60_000,
      probeTimeoutMs: 3_000,
    });
    await explorer.source.refresh();
    const view = (await (await fetch(`${explorer.url}/dashboard/api/explorer`)).json()) as ExplorerView;
    const rev = view.capabilities.find((c) => c.key === "byoc/text-reverse");
    // Registered with capacity 4 on each of the two; neither advertises a BYOC capacity in its info.
    assert.deepEqual(
      [rev?.capacity, rev?.capacityUnknown, rev?.free, rev?.freeMeasured],
      [0, 2, 8, 2],
      JSON.stringify(rev),
    );
    assert.deepEqual(
      rev?.providers.map((p) => [p.free, p.freeMeasured, p.capacityUnknown]),
      [
        [4, true, true],
        [4, true, true],
      ],
    );
  });
});

async function checkPage(url: string) {
  const b = await open(`${url}/dashboard`);
  const { page } = b;
  try {
    const row = '#xp-caps tr[data-key="byoc/text-reverse"][data-kind="job"][data-count="6"]';
    await page.waitForSelector(row);
    // One minute with data: one bar; latency lines drawn from it.
    await page.waitForSelector(`${row} svg.bars[data-nonzero="1"] rect.ok`);
    assert.equal(await page.locator(`${row} svg.spark`).getAttribute("data-samples"), "2", "p50 and p95");
    assert.match((await page.locator(row).textContent()) ?? "", /100%/);
    const broken = '#xp-caps tr[data-key="byoc/broken"]';
    assert.match((await page.locator(broken).textContent()) ?? "", /0%.*2 failed|2 failed.*0%/s);
    await page.waitForSelector(`${broken} svg.bars rect.failed`);
    assert.equal(await page.locator("#xp-orchs tbody tr").count(), 2);
    const failures = await page.locator("#xp-failures tbody tr").allTextContents();
    assert.equal(failures.length, 2);
    assert.ok(
      failures.every((t) => /byoc\/broken/.test(t) && /HTTP 500/.test(t)),
      failures.join("\n"),
    );
    assert.equal(await page.isVisible("#streams-empty"), true, "no stream running");

    // Sorting: by count, descending on the second click.
    const keys = () =>
      page.locator("#xp-caps tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key")));
    const countHeader = page.locator("#xp-caps thead button.sort", { hasText: "Count" });
    await countHeader.click();
    assert.deepEqual(await keys(), ["byoc/broken", "byoc/text-reverse"]);
    await page.locator("#xp-caps thead button.sort", { hasText: "Count" }).click();
    assert.deepEqual(await keys(), ["byoc/text-reverse", "byoc/broken"]);
    assert.equal(await page.locator('#xp-caps thead th[aria-sort="descending"]').textContent(), "Count ▼");

    // Filters: a model filter narrows every table; the link from a failure's capability sets it.
    await page.fill('#filters input[name="model"]', "text-rev");
    await page.waitForSelector('#xp-caps[data-shown="1"]');
    assert.match(page.url(), /#model=text-rev$/);
    assert.equal(await page.locator("#xp-failures tbody tr").count(), 0);
    await page.click("#filters-clear");
    await page.waitForSelector('#xp-caps[data-shown="2"]');
    await page.locator("#xp-failures tbody tr a.key").first().click();
    await page.waitForSelector('#xp-caps[data-shown="1"] tr[data-key="byoc/broken"]');
    assert.equal(await page.inputValue('#filters input[name="model"]'), "broken");
    // Nobody is "not listed": the state filter leaves no capability.
    await page.selectOption('#filters select[name="state"]', "unknown");
    await page.waitForSelector("#caps[data-shown='0'][data-total='2']");
    await page.click("#filters-clear");

    await page.screenshot({ path: "/tmp/dashboard-experience-desktop.png", fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const width = Number(await page.evaluate("document.documentElement.scrollWidth"));
    assert.ok(width <= 400, `no sideways scrolling on a phone (page is ${width} px wide)`);
    await page.screenshot({ path: "/tmp/dashboard-experience-phone.png", fullPage: true });
    assert.deepEqual(b.problems, []);
    assert.ok(
      b.requests.every((u) => u.startsWith(url)),
      "nothing loads from elsewhere",
    );
  } finally {
    await b.close();
  }
}

/** Opens `url` in headless chromium, recording requests and page errors. */
async function open(url: string) {
  const userDataDir = mkdtempSync(join(tmpdir(), "tributary-dash-xp-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return {
    page,
    requests,
    problems,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
