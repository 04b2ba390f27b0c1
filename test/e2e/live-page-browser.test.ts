/**
 * The gateway's live page (`/live`) in a real browser: headless Debian chromium (playwright-core) with
 * a fake camera opens the page of a gateway in front of an orchestrator running green-tint, picks the
 * model from the list the page loads, starts the camera (WHIP), sees the processed output playing
 * (WHEP) greener than the input, reads the glass-to-glass latency the page shows, applies new params
 * while the stream runs (the output's green boost drops) and stops: the stream stops on the gateway
 * and the page loaded nothing from elsewhere. A screenshot goes to /tmp/live-page.png.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Without it the test fails when `CI` is set
 * and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { poll, until } from "../until.ts";

const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = !existsSync(CHROMIUM);
const SCREENSHOT = join(tmpdir(), "live-page.png");

/**
 * Mean G − R of a <video> of the page below the clock band (in-page canvas), or NaN before it has a
 * frame. Plain JavaScript run in the page (its types are not this program's).
 */
const GREENNESS = `(sel) => {
  const v = document.querySelector(sel);
  if (!v || v.videoWidth === 0) return Number.NaN;
  const c = document.createElement("canvas");
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0);
  const top = Math.round(c.height / 8);
  const d = g.getImageData(0, top, c.width, c.height - top).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += d[i + 1] - d[i];
  return sum / (d.length / 4);
}`;

async function greenness(page: Page, selector: string): Promise<number> {
  return (await page.evaluate(`(${GREENNESS})(${JSON.stringify(selector)})`)) as number;
}

describe("the live page in a real browser", { skip: chromiumMissing && !process.env.CI }, () => {
  let dir: string;
  let runner: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;
  let context: BrowserContext;
  let userDataDir: string;

  before(async () => {
    runner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
    await runner.loaded;
    dir = mkdtempSync(join(tmpdir(), "live-page-browser-"));
    const aiModels = join(dir, "aiModels.json");
    writeFileSync(
      aiModels,
      JSON.stringify([{ pipeline: "live-video-to-video", model_id: "green-tint", url: runner.url }]),
    );
    orch = await startOrchestrator({
      port: 0,
      aiModelsPath: aiModels,
      dataDir: dir,
      health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
      reload: { sighup: false },
      streamCheckIntervalMs: 100,
    });
    await poll(() => orch.registry.advertised().some((a) => a.modelId === "green-tint"), 5_000);
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      liveEventTimeoutMs: 5000,
      refreshIntervalMs: 500,
    });
    userDataDir = mkdtempSync(join(tmpdir(), "tributary-live-page-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
      ],
    });
  });

  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await gw?.close();
    await orch?.close();
    await runner?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("pick green-tint, publish the camera, see green output and the latency, change a param, stop", async (t) => {
    assert.ok(!chromiumMissing, `${CHROMIUM} is needed (apt-get install -y chromium)`);
    // the page lists what the discovery pool offers: wait until the pool has the orchestrator
    await until("the gateway lists green-tint for the page", async () => {
      const r = await fetch(`${gw.url}/live/page/models`);
      return JSON.stringify(await r.json()).includes('"green-tint"');
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    const elsewhere: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
    page.on("request", (r) => !r.url().startsWith(gw.url) && elsewhere.push(r.url()));

    await page.goto(`${gw.url}/live?width=320&height=240`);
    await page.waitForSelector("#model option[value='green-tint']", { state: "attached" });
    await page.selectOption("#model", "green-tint");
    await page.fill("#params", '{"green": 90}');
    assert.equal(await page.isDisabled("#start"), false);
    await page.click("#start");
    // (string checks evaluated by the test: the page's CSP forbids the eval waitForFunction needs)
    await until(
      "the output plays",
      async () =>
        (await page.evaluate(
          `(() => { const v = document.querySelector("#output"); return v.videoWidth > 0 && v.currentTime > 1; })()`,
        )) === true,
      45_000,
      100,
    );
    assert.equal(await page.textContent("#state"), "Live");
    const input = await greenness(page, "#input");
    let before = Number.NaN;
    await until("the output is green-boosted", async () => {
      before = await greenness(page, "#output");
      return before > input + 40;
    });

    // the page measures glass-to-glass latency from the clock band it draws into what it sends
    await page.waitForSelector("#latency[data-p50]", { timeout: 20_000 });
    const p50 = Number(await page.getAttribute("#latency", "data-p50"));
    const p95 = Number(await page.getAttribute("#latency", "data-p95"));
    t.diagnostic(
      `live page: glass-to-glass latency p50 ${p50} ms, p95 ${p95} ms; ${await page.textContent("#latency")}`,
    );
    assert.ok(Number.isFinite(p50) && p50 > 0, `a finite latency, got ${p50}`);
    await until("the page shows the pipeline's fps and what was spent", async () => {
      const fps = (await page.textContent("#runner-fps")) ?? "";
      const cost = (await page.textContent("#cost")) ?? "";
      return /\d/.test(fps) && /wei/.test(cost);
    });
    assert.match((await page.textContent("#fps")) ?? "", /^\d+(\.\d)?$/);
    assert.match((await page.textContent("#orchestrator")) ?? "", /^https:\/\//);

    // a param changed while it runs: no more green added
    await page.fill("#params", '{"green": 0}');
    await page.click("#apply");
    await until("the params applied", async () =>
      /params applied/.test((await page.textContent("#message")) ?? ""),
    );
    let afterUpdate = Number.NaN;
    await until(
      "the output loses its green boost",
      async () => {
        afterUpdate = await greenness(page, "#output");
        return afterUpdate < before - 40;
      },
      30_000,
    );
    t.diagnostic(
      `greenness (mean G − R): input ${input.toFixed(1)}, output ${before.toFixed(1)}, after green=0 ${afterUpdate.toFixed(1)}`,
    );
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await page.click("#stop");
    await until("the page is idle", async () => (await page.textContent("#state")) === "Idle");
    assert.match((await page.textContent("#message")) ?? "", /stopped/);
    await until("the stream stopped on the gateway", () => gw.live.count === 0);
    assert.ok(
      gw.live.statuses().every((s) => s.state === "stopped" || s.state === "ended"),
      JSON.stringify(gw.live.statuses()),
    );
    assert.deepEqual(elsewhere, [], "the page loads nothing from elsewhere");
    assert.deepEqual(problems, []);
  });
});
