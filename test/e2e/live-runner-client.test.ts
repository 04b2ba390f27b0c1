/**
 * `tributary/client`'s RunnerClient against our orchestrator, with the tiny Node runner of the
 * conformance kit registered by heartbeat: offchain (discovery, single-shot HTTP, a persistent
 * session with HTTP, SSE and WebSocket, stop), and paid (the payment gate over an in-memory recipient
 * as in live-runner-payments.test.ts: 402 → pay with a local key → call → top-ups keep the metered
 * session alive → stop).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { jobRunner } from "../../src/cli/job-runner.ts";
import { type GatewayError, RunnerClient, remoteSignerPayer, ticketPayer } from "../../src/client/index.ts";
import { closeServer, listen } from "../../src/node/http/listen.ts";
import { silentLogger } from "../../src/node/logger.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Sender } from "../../src/payments/sender.ts";
import { SignerAuth } from "../../src/signer/auth.ts";
import { SignerMetrics } from "../../src/signer/metrics.ts";
import { createSignerRouter } from "../../src/signer/signer.ts";
import { openSignerStore } from "../../src/signer/store.ts";
import { postJson, startTinyRunner, type TinyRunner } from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";
import { inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const SECRET = "s";

async function register(orch: RunningOrchestrator, body: Record<string, unknown>): Promise<void> {
  const r = await postJson(`${orch.url}/runners/heartbeat`, body, { authorization: SECRET });
  assert.equal(r.status, 200, r.text);
}

describe("RunnerClient against our orchestrator (offchain)", () => {
  const dir = mkdtempSync(join(tmpdir(), "lr-client-"));
  let orch: RunningOrchestrator;
  let runner: TinyRunner;

  before(async () => {
    runner = await startTinyRunner();
    orch = await startOrchestrator({ port: 0, dataDir: dir, orchSecret: SECRET, liveRunners: {} });
    await register(orch, { runner_url: runner.url, app: "test/echo", runner_id: "p1", capacity: 1 });
    await register(orch, { runner_url: runner.url, app: "test/once", runner_id: "o1", mode: "single-shot" });
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("discovery and a single-shot call", async () => {
    await using client = new RunnerClient();
    const list = await client.discover(orch.url);
    assert.deepEqual(list.map((r) => [r.app, r.mode]).sort(), [
      ["test/echo", "persistent"],
      ["test/once", "single-shot"],
    ]);
    const once = await client.find(orch.url, "test/once");
    const a = await client.call(once.url, "/echo?x=1", { json: { hi: 1 }, headers: { "x-custom": "c" } });
    const got = (await a.json()) as Record<string, string>;
    assert.equal(got.method, "POST");
    assert.equal(got.path, "/echo");
    assert.equal(got.query, "?x=1");
    assert.equal(got.body, '{"hi":1}');
    assert.equal(got.custom, "c");
    assert.ok(got.session_id, "the orchestrator made a session for the call");
    await assert.rejects(
      client.find(orch.url, "nope"),
      (e: GatewayError) => e.code === "RUNNER_NOT_FOUND" && /test\/echo/.test(e.message),
    );
  });

  test("a persistent session: HTTP, SSE, WebSocket, capacity, stop", async () => {
    await using client = new RunnerClient();
    const info = await client.find(orch.url, "test/echo");
    const s = await client.reserve(info.url);
    const echo = (await (await s.fetch("/echo", { method: "PUT", body: "raw" })).json()) as Record<
      string,
      string
    >;
    assert.equal(echo.method, "PUT");
    assert.equal(echo.body, "raw");
    assert.equal(echo.session_id, s.id, "the runner sees this session");

    const events = [];
    for await (const e of s.events("/sse")) events.push(JSON.parse(e.data));
    assert.deepEqual(events, [{ n: 0 }, { n: 1 }, { n: 2 }]);

    const ws = await s.websocket("/ws");
    ws.send("hello");
    const it = ws.messages();
    const first = await it.next();
    assert.equal(first.value?.text, `echo:hello:${s.id}`);
    await ws.close();

    await assert.rejects(
      client.reserve(orch.url, "p1"),
      (e: GatewayError) => e.httpStatus === 503,
      "capacity 1 is taken by the open session",
    );
    await s.stop();
    assert.equal(s.released, true);
    await assert.rejects(
      s.fetch("/echo"),
      (e: GatewayError) => e.httpStatus === 404,
      "stopped: its URLs are gone",
    );
    const again = await client.reserve(orch.url, "p1");
    await again.stop();
  });
});

describe("RunnerClient paying a priced runner (in-process payment gate)", () => {
  const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
  const payer = privateKeyToAccount(`0x${"44".repeat(32)}`);
  const PRICE = 1000; // wei per second; one ticket's EV
  const dir = mkdtempSync(join(tmpdir(), "lr-client-pay-"));
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  let runner: TinyRunner;

  before(async () => {
    runner = await startTinyRunner();
    let seed = 0;
    gate = new PaymentGate({
      recipient: inMemoryRecipient(ORCH, 1000n, (n) => new Uint8Array(n).fill(++seed)),
      balances: new Balances(),
      enqueueWinner: () => {},
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      network: "devnet",
      payments: gate,
      address: ORCH,
      livePaymentIntervalMs: 1000,
      liveRunners: {},
    });
    await register(orch, {
      runner_url: runner.url,
      app: "paid/echo",
      runner_id: "paid",
      price_info: { price: PRICE, currency: "wei", unit: "seconds" },
    });
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("no payer: PAYMENT_REQUIRED; with a key: 402 → pay → call → top-ups outlive the upfront credit → stop", async () => {
    await using unpaid = new RunnerClient();
    await assert.rejects(
      unpaid.reserve(orch.url, "paid"),
      (e: GatewayError) => e.code === "PAYMENT_REQUIRED",
    );

    const sender = new Sender({ signer: payer, time, senders });
    await using client = new RunnerClient({
      payer: ticketPayer(sender, payer),
      upfrontSeconds: 2,
      topUpEveryMs: 500,
      topUpSeconds: 1,
    });
    const s = await client.reserve(orch.url, "paid");
    const credit = () => gate.balance(payer.address, s.id);
    assert.ok(credit().cmp(gate.balance(payer.address, "other")) > 0, "the reservation was paid");
    assert.equal(
      ((await (await s.fetch("/echo", { json: {} })).json()) as { session_id: string }).session_id,
      s.id,
    );
    // The upfront 2 s would run out after two 1 s periods; the top-ups keep it going past 3.5 s.
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok(s.topUps >= 4, `top-ups accepted: ${s.topUps} (${s.lastPaymentError?.message ?? "no error"})`);
    assert.equal(s.released, false);
    assert.equal((await s.fetch("/echo", { json: {} })).status, 200, "still paid, still served");
    await s.stop();
    assert.equal(orch.runners?.registry.get("paid")?.sessions.size, 0, "stop released it");
    const before = s.topUps;
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(s.topUps, before, "no top-ups after stop");
    // without top-ups the orchestrator releases a session when its credit runs out
    await using lazy = new RunnerClient({
      payer: ticketPayer(sender, payer),
      upfrontSeconds: 1,
      topUpEveryMs: 600_000,
    });
    const l = await lazy.reserve(orch.url, "paid");
    await until(
      "the unpaid session released",
      async () => orch.runners?.registry.get("paid")?.sessions.size === 0,
      6000,
    );
    await assert.rejects(l.fetch("/echo"), (e: GatewayError) => e.httpStatus === 404);
  });

  test("paid through a remote signer (ours, in process): the signer's address, its payments and top-ups", async () => {
    const signerKey = privateKeyToAccount(`0x${"45".repeat(32)}`);
    const store = openSignerStore({ dataDir: ":memory:" });
    let id = 0;
    const server = createServer(
      createSignerRouter({
        signer: signerKey,
        sender: new Sender({ signer: signerKey, time, senders }),
        store,
        auth: new SignerAuth({ tokens: new Map([["tok", "app-a"]]) }),
        limits: {},
        metrics: new SignerMetrics(),
        logger: silentLogger(),
        infoSig: async () => "0x01" as Hex,
        lastSeenL1Block: () => time.lastSeenL1Block(),
        now: Date.now,
        newId: () => `sid-${++id}`,
      }).handle,
    );
    const port = await listen(server, "127.0.0.1", 0);
    try {
      await assert.rejects(
        remoteSignerPayer(`http://127.0.0.1:${port}`),
        (e: GatewayError) => e.httpStatus === 401,
        "the signer wants its token",
      );
      const payer = await remoteSignerPayer(`http://127.0.0.1:${port}`, {
        headers: { authorization: "Bearer tok" },
      });
      assert.equal(payer.address, signerKey.address);
      await using client = new RunnerClient({ payer, topUpEveryMs: 500 });
      const s = await client.reserve(orch.url, "paid");
      assert.ok(
        gate.balance(signerKey.address, s.id).cmp(gate.balance(signerKey.address, "x")) > 0,
        "paid by the signer",
      );
      assert.equal((await s.fetch("/echo", { json: {} })).status, 200);
      await until("two top-ups through the signer", async () => s.topUps >= 2, 5000);
      assert.equal(s.lastPaymentError, undefined);
      await s.stop();
      assert.equal(orch.runners?.registry.get("paid")?.sessions.size, 0);

      // the CLI pays through the same signer
      const out: string[] = [];
      const code = await jobRunner(
        "paid",
        {
          orch: orch.url,
          path: "/echo",
          json: { via: "cli" },
          remoteSignerUrl: `http://127.0.0.1:${port}`,
          remoteSignerHeaders: "Authorization:Bearer tok",
        },
        { stdout: { write: (c) => out.push(String(c)) }, stderr: { write: (c) => out.push(c) } },
      );
      assert.equal(code, 0, out.join(""));
      assert.equal(JSON.parse(out.join("")).body, '{"via":"cli"}');
      assert.equal(orch.runners?.registry.get("paid")?.sessions.size, 0, "the CLI stopped its session");
    } finally {
      await closeServer(server);
      store.close();
    }
  });
});
