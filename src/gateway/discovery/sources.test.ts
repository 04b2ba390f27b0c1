import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { cachedSource } from "./cached-source.ts";
import { staticSource } from "./static-source.ts";
import { DiscoveryError, type DiscoverySource, type OrchestratorCandidate } from "./types.ts";
import { normalizeOrchestratorUrl, parseOrchestratorList } from "./uri.ts";
import { webhookSource } from "./webhook-source.ts";

describe("orchestrator addresses", () => {
  test("host:port gets https://, paths and trailing slashes are dropped", () => {
    assert.equal(normalizeOrchestratorUrl("o1.example:8935"), "https://o1.example:8935");
    assert.equal(normalizeOrchestratorUrl(" https://o1.example:8935/ "), "https://o1.example:8935");
    assert.equal(normalizeOrchestratorUrl("http://10.0.0.1:8935/x?y"), "http://10.0.0.1:8935");
  });

  test("a non-http scheme or garbage is a 400 INVALID_ORCHESTRATOR_ADDRESS", () => {
    for (const bad of ["ftp://x:1", "https://", "::::"]) {
      assert.throws(
        () => normalizeOrchestratorUrl(bad),
        (e: { code?: string; status?: number }) => {
          return e.code === "INVALID_ORCHESTRATOR_ADDRESS" && e.status === 400;
        },
      );
    }
  });

  test("--orch-addr lists split on commas, skip blanks and drop duplicates", () => {
    assert.deepEqual(parseOrchestratorList("a:1, b:2,,a:1 "), ["https://a:1", "https://b:2"]);
    assert.deepEqual(parseOrchestratorList(["a:1,b:2", "c:3"]), [
      "https://a:1",
      "https://b:2",
      "https://c:3",
    ]);
  });
});

/** Behaviour every DiscoverySource must have, given a source that lists exactly `expected`. */
function sourceContract(name: string, make: () => Promise<{ source: DiscoverySource; expected: string[] }>) {
  describe(`DiscoverySource contract: ${name}`, () => {
    test("lists normalised, unique candidates", async () => {
      const { source, expected } = await make();
      const list = await source.list();
      assert.deepEqual(
        list.map((c) => c.url),
        expected,
      );
      for (const c of list) assert.ok(c.score >= 0 && c.score <= 1);
    });
    test("callers get copies they may mutate", async () => {
      const { source } = await make();
      const a = await source.list();
      (a[0] as OrchestratorCandidate).url = "mutated";
      const b = await source.list();
      assert.notEqual(b[0]?.url, "mutated");
    });
    test("an aborted signal rejects", async () => {
      const { source } = await make();
      await assert.rejects(source.list(AbortSignal.abort(new Error("stop"))), /stop/);
    });
  });
}

let webhook: Server;
let webhookUrl = "";
let webhookBody: unknown = [];
let webhookStatus = 200;
let webhookCalls = 0;
let webhookDelayMs = 0;

before(async () => {
  webhook = createServer((req, res) => {
    webhookCalls++;
    setTimeout(() => {
      res.writeHead(webhookStatus, { "content-type": "application/json" });
      res.end(typeof webhookBody === "string" ? webhookBody : JSON.stringify(webhookBody));
    }, webhookDelayMs);
    req.resume();
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/orchs`;
});
after(async () => {
  webhook.closeAllConnections();
  await new Promise((r) => webhook.close(r));
});

sourceContract("static", async () => ({
  source: staticSource("a:1,https://b:2/,a:1"),
  expected: ["https://a:1", "https://b:2"],
}));

sourceContract("webhook", async () => {
  webhookStatus = 200;
  webhookDelayMs = 0;
  webhookBody = [
    { address: "a:1", score: 0.5 },
    { address: "https://b:2", score: 1, capabilities: ["llm/x"] },
    { address: "a:1", score: 0.9 },
  ];
  return { source: webhookSource({ url: webhookUrl, cacheMs: 0 }), expected: ["https://a:1", "https://b:2"] };
});

describe("webhook source", () => {
  test("scores come from the webhook; a missing score is untrusted (0)", async () => {
    webhookStatus = 200;
    webhookDelayMs = 0;
    webhookBody = [{ address: "a:1", score: 0.25 }, { address: "b:2" }];
    const list = await webhookSource({ url: webhookUrl, cacheMs: 0 }).list();
    assert.deepEqual(
      list.map((c) => [c.url, c.score, c.source]),
      [
        ["https://a:1", 0.25, "webhook"],
        ["https://b:2", 0, "webhook"],
      ],
    );
  });

  test("bad entries are skipped with a warning, not fatal", async () => {
    webhookStatus = 200;
    webhookDelayMs = 0;
    webhookBody = [{ address: "ftp://x:1" }, { nope: 1 }, { address: "c:3", score: 1 }];
    const warnings: string[] = [];
    const list = await webhookSource({
      url: webhookUrl,
      cacheMs: 0,
      onWarning: (m) => warnings.push(m),
    }).list();
    assert.deepEqual(
      list.map((c) => c.url),
      ["https://c:3"],
    );
    assert.equal(warnings.length, 2);
  });

  test("non-2xx, non-list bodies and timeouts are DISCOVERY_WEBHOOK_FAILED (503)", async () => {
    const isWebhookFailure = (e: unknown) =>
      e instanceof DiscoveryError && e.code === "DISCOVERY_WEBHOOK_FAILED" && e.status === 503;
    webhookDelayMs = 0;
    webhookStatus = 500;
    await assert.rejects(webhookSource({ url: webhookUrl, cacheMs: 0 }).list(), isWebhookFailure);
    webhookStatus = 200;
    webhookBody = { address: "a:1" };
    await assert.rejects(webhookSource({ url: webhookUrl, cacheMs: 0 }).list(), isWebhookFailure);
    webhookBody = "not json";
    await assert.rejects(webhookSource({ url: webhookUrl, cacheMs: 0 }).list(), isWebhookFailure);
    webhookBody = [];
    webhookDelayMs = 300;
    await assert.rejects(
      webhookSource({ url: webhookUrl, cacheMs: 0, timeoutMs: 50 }).list(),
      /within 50 ms/,
    );
    webhookDelayMs = 0;
  });

  test("answers are cached for cacheMs and the last good list is served when a refresh fails", async () => {
    webhookStatus = 200;
    webhookDelayMs = 0;
    webhookBody = [{ address: "a:1", score: 1 }];
    let now = 0;
    const warnings: string[] = [];
    const raw = webhookSource({ url: webhookUrl, cacheMs: 0 });
    const source = cachedSource(raw, {
      ttlMs: 60_000,
      now: () => now,
      onStale: () => warnings.push("stale"),
    });
    const before = webhookCalls;
    await source.list();
    await source.list();
    assert.equal(webhookCalls - before, 1, "second call answered from the cache");
    now = 60_001;
    webhookStatus = 500;
    const stale = await source.list();
    assert.deepEqual(
      stale.map((c) => c.url),
      ["https://a:1"],
    );
    assert.deepEqual(warnings, ["stale"]);
    assert.equal(webhookCalls - before, 2);
    webhookStatus = 200;
  });
});

describe("cached source", () => {
  test("concurrent callers share one refresh; a failure with no earlier answer rejects", async () => {
    let calls = 0;
    let fail = true;
    const inner: DiscoverySource = {
      name: "x",
      async list() {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        if (fail) throw new DiscoveryError("down");
        return [{ url: "https://a:1", score: 1, source: "static" }];
      },
    };
    const source = cachedSource(inner, { ttlMs: 1000 });
    await assert.rejects(Promise.all([source.list(), source.list()]), /down/);
    assert.equal(calls, 1);
    fail = false;
    const [a, b] = await Promise.all([source.list(), source.list()]);
    assert.equal(calls, 2);
    assert.deepEqual(a, b);
  });

  test("a caller's abort does not cancel the shared refresh", async () => {
    let calls = 0;
    const inner: DiscoverySource = {
      name: "x",
      async list() {
        calls++;
        await new Promise((r) => setTimeout(r, 30));
        return [{ url: "https://a:1", score: 1, source: "static" }];
      },
    };
    const source = cachedSource(inner, { ttlMs: 1000 });
    const ac = new AbortController();
    const first = source.list(ac.signal);
    const second = source.list();
    ac.abort(new Error("gone"));
    await assert.rejects(first, /gone/);
    assert.equal((await second).length, 1);
    assert.equal(calls, 1);
  });
});
