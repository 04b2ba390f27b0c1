import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import { createLivePage, type LiveModel, liveModelsOf } from "./server.ts";

function info(
  url: string,
  models: Record<string, { warm: boolean; capacity: number; capacityInUse?: number }>,
  wei?: bigint,
) {
  return create(OrchestratorInfoSchema, {
    transcoder: url,
    capabilities: {
      bitstring: capabilityBitstring([
        ...DEFAULT_CAPABILITIES,
        CAPABILITY.LiveVideoToVideo,
        CAPABILITY.TextToImage,
      ]),
      constraints: {
        PerCapability: {
          [CAPABILITY.LiveVideoToVideo]: { models },
          [CAPABILITY.TextToImage]: { models: { "not-live": { warm: true, capacity: 9 } } },
        },
      },
    },
    capabilitiesPrices: Object.keys(models).flatMap((m) =>
      wei === undefined
        ? []
        : [{ capability: CAPABILITY.LiveVideoToVideo, constraint: m, pricePerUnit: wei, pixelsPerUnit: 1n }],
    ),
  });
}

describe("live page models", () => {
  test("live-video-to-video models only, summed over orchestrators, with the lowest price", () => {
    const models = liveModelsOf([
      info(
        "https://a",
        { "green-tint": { warm: true, capacity: 2, capacityInUse: 1 }, noop: { warm: false, capacity: 1 } },
        3n,
      ),
      info("https://b", { "green-tint": { warm: false, capacity: 4 } }, 2n),
    ]);
    assert.deepEqual(
      models.map((m) => [m.model_id, m.orchestrators, m.warm, m.free]),
      [
        ["green-tint", 2, 1, 5],
        ["noop", 1, 0, 1],
      ],
    );
    assert.match(models[0]?.price ?? "", /^2 wei\/pixel \(.+ per second of 720p30\)$/);
    assert.deepEqual(liveModelsOf([]), []);
  });
});

describe("live page server", () => {
  let server: Server;
  let url: string;
  let models: LiveModel[] = [{ model_id: "<b>m</b>", orchestrators: 1, warm: 1, free: 1 }];

  before(async () => {
    const page = createLivePage({ models: () => models });
    server = createServer((req, res) => {
      if (!page.handle(req, res)) {
        res.writeHead(418);
        res.end("not mine");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test("the page with a strict CSP, its scripts and stylesheet from the same origin only", async () => {
    for (const path of ["/live", "/live/"]) {
      const res = await fetch(url + path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /connect-src 'self'/);
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      const html = await res.text();
      assert.doesNotMatch(html, /https?:\/\//, "nothing loads from elsewhere");
      for (const m of html.matchAll(/(?:src|href)="(\/live\/page\/[^"]+)"/g)) {
        const asset = await fetch(url + m[1]);
        assert.equal(asset.status, 200, m[1]);
        await asset.text();
      }
    }
    for (const [file, type] of [
      ["live.js", /^text\/javascript/],
      ["stamp.js", /^text\/javascript/],
      ["live.css", /^text\/css/],
    ] as const) {
      const res = await fetch(`${url}/live/page/${file}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", type);
      assert.ok((await res.text()).length > 100);
    }
  });

  test("models as JSON, asked anew each time; names stay data", async () => {
    let res = await fetch(`${url}/live/page/models`);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(await res.json(), { pipeline: "live-video-to-video", models });
    models = [];
    res = await fetch(`${url}/live/page/models`);
    assert.deepEqual(((await res.json()) as { models: unknown[] }).models, []);
  });

  test("405 for other methods, JSON 404 under /live/page/, other paths left to the caller", async () => {
    const post = await fetch(`${url}/live`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.equal(((await post.json()) as { error: { code: string } }).error.code, "METHOD_NOT_ALLOWED");
    const missing = await fetch(`${url}/live/page/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    for (const path of ["/live/video-to-video", "/liveX", "/dashboard"]) {
      const res = await fetch(url + path);
      assert.equal(res.status, 418, path);
      await res.text();
    }
    const head = await fetch(`${url}/live`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });
});
