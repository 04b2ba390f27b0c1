import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Rat } from "../payments/rational.ts";
import { mergeRunners, RunnerDiscovery, runnerRecord } from "./runners.ts";

const priced = (over: Record<string, unknown> = {}) => ({
  url: "https://o1.example:8935/apps/echo/session",
  app: "demo/echo",
  mode: "persistent",
  capacity: 2,
  capacity_used: 1,
  capacity_available: 1,
  price_info: { price: 1000, currency: "wei", unit: "seconds" },
  ...over,
});

describe("signer remote discovery: live runners", () => {
  test("a record needs a URL, an app, short metadata and a positive wei price per seconds, 720p-pixel-seconds or fixed", () => {
    const reason = (over: Record<string, unknown>, max?: Rat) => {
      const r = runnerRecord(priced(over), max);
      return "reason" in r ? r.reason : "kept";
    };
    assert.equal(reason({}), "kept");
    assert.equal(reason({ url: "" }), "missing URL");
    assert.equal(reason({ app: " " }), "missing app");
    assert.equal(reason({ metadata: "x".repeat(1025) }), "metadata too long");
    assert.equal(reason({ metadata: "\ud800" }), "invalid metadata");
    assert.equal(reason({ price_info: undefined }), "invalid price", "an offchain runner has no price");
    assert.equal(reason({ price_info: { price: 0, currency: "wei", unit: "seconds" } }), "invalid price");
    assert.equal(reason({ price_info: { price: "abc", currency: "wei", unit: "seconds" } }), "invalid price");
    assert.equal(
      reason({ price_info: { price: 1, currency: "usd", unit: "seconds" } }),
      "unsupported currency",
    );
    assert.equal(reason({ price_info: { price: 1, currency: "wei", unit: "hour" } }), "unsupported unit");
    assert.equal(reason({ price_info: { price: 5, currency: "WEI", unit: "Fixed" } }), "kept");
    assert.equal(reason({}, Rat.of(999n)), "above max price");
    assert.equal(reason({}, Rat.of(1000n)), "kept");
  });

  test("only go-livepeer's record fields are passed on", () => {
    const r = runnerRecord(
      priced({
        runner_url: "http://10.0.0.5:9000",
        secret: "s",
        version: "1.2",
        metadata: "{}",
        gpu: { id: "0", name: "L40S", vram_mb: 46068, serial: "x" },
      }),
    );
    assert.ok("runner" in r);
    assert.deepEqual(r.runner, {
      url: "https://o1.example:8935/apps/echo/session",
      app: "demo/echo",
      mode: "persistent",
      capacity: 2,
      capacity_used: 1,
      capacity_available: 1,
      price_info: { price: 1000, currency: "wei", unit: "seconds" },
      version: "1.2",
      metadata: "{}",
      gpu: { id: "0", name: "L40S", vram_mb: 46068 },
    });
  });

  test("merged by address (trailing / ignored) and by URL, the first kept; apps join the capabilities; new addresses listed", () => {
    const pool = [
      { address: "https://o1.example:8935", capabilities: ["text-to-image/m"] },
      { address: "https://o2.example:8935", capabilities: ["byoc-x"] },
    ];
    const second = priced({
      url: "https://o1.example:8935/apps/two/app",
      app: "demo/two",
      mode: "single-shot",
    });
    const merged = mergeRunners(
      pool,
      [
        [
          {
            address: "https://o1.example:8935/",
            runners: [priced(), second, priced({ price_info: undefined })],
          },
        ],
        // the same runner again with other capacity figures: not a conflict, not listed twice
        [
          {
            address: "https://o1.example:8935",
            runners: [priced({ capacity_used: 2, capacity_available: 0 })],
          },
        ],
        undefined, // o2 failed
        [
          {
            address: "https://o3.example:8935",
            runners: [priced({ url: "https://o3.example:8935/apps/e/session" })],
          },
        ],
        [{ address: "not a url", runners: [priced()] }],
        { not: "an array" },
      ],
      undefined,
    );
    assert.deepEqual(
      merged.map((o) => [o.address, o.capabilities, o.runners?.map((r) => [r.url, r.capacity_used])]),
      [
        [
          "https://o1.example:8935",
          ["text-to-image/m", "demo/echo", "demo/two"],
          [
            ["https://o1.example:8935/apps/echo/session", 1],
            ["https://o1.example:8935/apps/two/app", 1],
          ],
        ],
        ["https://o2.example:8935", ["byoc-x"], undefined],
        ["https://o3.example:8935", ["demo/echo"], [["https://o3.example:8935/apps/e/session", 1]]],
      ],
    );
    assert.equal(pool[0]?.capabilities.length, 1, "the pool's list is not changed");
  });

  test("each orchestrator's /discovery is asked once per refresh interval; a failure is no runners", async () => {
    let now = 0;
    const asked: string[] = [];
    const d = new RunnerDiscovery({
      get: async (url) => {
        asked.push(url);
        if (url.startsWith("https://bad")) throw new Error("down");
        return [{ address: url, runners: [] }];
      },
      refreshMs: 1000,
      now: () => now,
    });
    const first = await d.answers(["https://a:1/", "https://bad:1"]);
    assert.deepEqual(first, [[{ address: "https://a:1/discovery", runners: [] }], undefined]);
    await d.answers(["https://a:1", "https://bad:1"]);
    assert.deepEqual(asked, ["https://a:1/discovery", "https://bad:1/discovery"], "cached");
    now = 1001;
    await d.answers(["https://a:1"]);
    assert.deepEqual(asked.slice(2), ["https://a:1/discovery"], "asked again past the interval");
  });
});
