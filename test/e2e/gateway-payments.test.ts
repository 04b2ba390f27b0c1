/**
 * Gateway BYOC, native AI and live payments against a priced orchestrator (the orchestrator's payment gate over a real
 * Recipient; chain facts faked in process, no devnet) with the text-reverse SDK container: the gateway
 * signs the job, takes a token, sends a ticket batch, and the job runs; the orchestrator credited the
 * tickets; a price that more than doubles mid-session is refused.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Sender } from "../../src/payments/sender.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gwKey = privateKeyToAccount(`0x${"42".repeat(32)}`);
const TICKET_EV = 1000n;
let seedCounter = 0;

function register(orch: RunningOrchestrator, price: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}/capability/register`,
      { method: "POST", headers: { authorization: "s" }, ca: orch.cert, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ name: "text-reverse", url: reverse.url, capacity: 2, price_per_unit: price }));
  });
}

let reverse: RunningRunner;
let llm: RunningRunner;
let live: RunningRunner;

describe("gateway payments (BYOC, native AI, live)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gw-pay-"));
  const winners: SignedTicket[] = [];
  let balances: Balances;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  before(async () => {
    reverse = await startRunner(textReverse, { port: 0 });
    live = await startRunner(defineLivePipeline({ name: "paid-live", start: () => {} }), { port: 0 });
    llm = await startRunner(
      defineBatchPipeline({
        name: "llm",
        run: (i: { prompt: string; max_tokens: number }) => ({ text: `${i.prompt}!`, tokens: i.max_tokens }),
      }),
      { port: 0 },
    );
    const recipient = inMemoryRecipient(ORCH, TICKET_EV, (n) => new Uint8Array(n).fill(++seedCounter));
    balances = new Balances();
    const gate = new PaymentGate({
      recipient,
      balances,
      enqueueWinner: (t) => winners.push(t),
      isActive: () => true,
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
      livePaymentIntervalMs: 300,
      streamCheckIntervalMs: 100,
      models: parseAiModels(
        JSON.stringify([
          { pipeline: "llm", model_id: "paid-llm", url: llm.url, price_per_unit: 5 },
          // 1 wei per second of 1280×720 at 30 fps.
          {
            pipeline: "live-video-to-video",
            model_id: "paid-live",
            url: live.url,
            price_per_unit: 1,
            pixels_per_unit: 1280 * 720 * 30,
          },
        ]),
      ),
    });
    assert.equal(await register(orch, 10), 200);
    for (
      let i = 0;
      i < 200 &&
      !["byoc/text-reverse", "llm/paid-llm", "live-video-to-video/paid-live"].every((k) =>
        orch.registry.advertised().some((a) => a.key === k),
      );
      i++
    )
      await new Promise((r) => setTimeout(r, 25));
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      payments: { signer: gwKey, sender: new Sender({ signer: gwKey, time, senders }) },
      livePaymentIntervalMs: 200,
    });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await reverse?.close();
    await llm?.close();
    await live?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a priced BYOC job is signed and paid by the gateway and runs", async () => {
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "paid" }),
    });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.deepEqual(JSON.parse(body), { text: "diap" });
    // 120 s × 10 wei = 1200 wei at EV 1000 → 2 tickets; minus about 1 s of work.
    const left = BigInt(String(r.headers.get("livepeer-balance")));
    assert.ok(left > 1000n && left <= 2000n, `balance after the job: ${left}`);
    // A second job is covered by the balance left: still runs.
    const again = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "ab" }),
    });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { text: "ba" });
  });

  test("a priced native AI job carries a signed segment and tickets for its max_tokens", async () => {
    const before = winners.length;
    for (const maxTokens of [100, 1000]) {
      const r = await fetch(`${gw.url}/llm`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model_id: "paid-llm", prompt: "hi", max_tokens: maxTokens }),
      });
      const body = await r.text();
      assert.equal(r.status, 200, body);
      assert.deepEqual(JSON.parse(body), { text: "hi!", tokens: maxTokens });
    }
    // 1 ticket, then 5 (5000 wei at EV 1000); face value ≈ EV, so nearly every ticket wins.
    assert.ok(winners.length - before >= 3, `winning tickets: ${winners.length - before}`);
  });

  test("a priced llm job without max_tokens is sent, paid and charged as 256 tokens", async () => {
    const r = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "paid-llm", prompt: "hi" }),
    });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.deepEqual(JSON.parse(body), { text: "hi!", tokens: 256 });
  });

  test("a priced live stream is paid at start and topped up while it runs", async () => {
    const before = winners.length;
    const r = await fetch(`${gw.url}/live/video-to-video`, {
      method: "POST",
      body: JSON.stringify({ model_id: "paid-live" }),
    });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    const s = JSON.parse(body) as { status_url: string; stop_url: string };
    let status: { state?: string; payments?: number } = {};
    for (let i = 0; i < 200; i++) {
      status = (await (await fetch(s.status_url)).json()) as typeof status;
      if ((status.payments ?? 0) >= 2) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    assert.equal(status.state, "running");
    assert.ok((status.payments ?? 0) >= 2, JSON.stringify(status));
    assert.ok(winners.length - before >= 3, "tickets at start and at each top-up");
    assert.equal((await fetch(s.stop_url, { method: "POST" })).status, 200);
  });

  test("a price that more than doubles mid-session is refused", async () => {
    assert.equal(await register(orch, 25), 200);
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "no" }),
    });
    const body = await r.text();
    assert.equal(r.status, 502, body);
    assert.match(body, /more than double/);
  });
});
