/**
 * BYOC batch billing (issue #12, items 1–3): a priced orchestrator (payment gate over an in-memory
 * Recipient, no chain) in front of a plain HTTP container that sleeps or streams SSE for as long as
 * its path says, with a paying gateway in front for the client-side cases. Every job is charged
 * `max(1, ceil(seconds run))` × price however it ends (streamed, aborted by its client, cut by its
 * timeout), a streamed answer ends with the balance, a job whose credit runs out is stopped with the
 * balance still ≥ 0, and `--max-job-timeout` refuses longer timeouts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { until } from "../until.ts";
import { call, inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const ORCH = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F" as const;
const gwKey = privateKeyToAccount(`0x${"42".repeat(32)}`);
const CAP = "slow";
/** wei per second. */
const PRICE = 10n;
/** Debit period of running jobs (1 s, so that the credit case runs in seconds). */
const PERIOD_MS = 1000;
const MAX_TIMEOUT = 60;

/**
 * `GET /health` → OK; `POST …/sleep/<ms>` answers JSON after `ms`; `POST …/sse/<ms>` streams one
 * event, then after `ms` a second one and `[DONE]`. Counts the calls whose client went away.
 */
function startContainer(): Promise<{ server: Server; url: string; gone: () => number }> {
  let gone = 0;
  const server = createServer((req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"OK"}');
      return;
    }
    req.resume();
    const [, kind, ms] = /\/(sse|sleep)\/(\d+)$/.exec(req.url ?? "") ?? [];
    const wait = Number(ms ?? 0);
    let timer: NodeJS.Timeout;
    if (kind === "sse") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"n":1}\n\n');
      timer = setTimeout(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'), wait);
    } else {
      timer = setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ slept: wait }));
      }, wait);
    }
    res.on("close", () => {
      clearTimeout(timer);
      if (!res.writableFinished) gone++;
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        gone: () => gone,
      }),
    ),
  );
}

/** A V0-signed `Livepeer` header for CAP (personal_sign(keccak256(request + parameters))). */
async function signedJob(timeoutSeconds: number): Promise<string> {
  const request = "{}";
  const parameters = "{}";
  const sig = await gwKey.signMessage({ message: { raw: keccak256(stringToBytes(request + parameters)) } });
  return Buffer.from(
    JSON.stringify({
      capability: CAP,
      timeout_seconds: timeoutSeconds,
      sender: gwKey.address,
      sig,
      request,
      parameters,
    }),
  ).toString("base64");
}

/** The client's own `Livepeer` header for the gateway (unsigned; the gateway signs and pays). */
function clientJob(timeoutSeconds: number): string {
  return Buffer.from(
    JSON.stringify({ capability: CAP, request: "{}", timeout_seconds: timeoutSeconds }),
  ).toString("base64");
}

describe("BYOC batch billing", () => {
  const dir = mkdtempSync(join(tmpdir(), "byoc-billing-"));
  let container: Awaited<ReturnType<typeof startContainer>>;
  let gate: PaymentGate;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  const balance = (): bigint => gate.balance(gwKey.address, CAP).floor();
  /** Sets the sender's credit to exactly `wei`. */
  const setBalance = (wei: bigint): void => {
    gate.balances.credit(gwKey.address, CAP, Rat.of(wei).sub(gate.balance(gwKey.address, CAP)));
  };
  const idle = () =>
    until("the container slot to be free", () => orch.registry.container(container.url)?.inUse === 0);

  before(async () => {
    container = await startContainer();
    gate = new PaymentGate({
      recipient: inMemoryRecipient(ORCH, 1000n),
      balances: new Balances(),
      enqueueWinner: () => {},
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
      sseDebitIntervalMs: PERIOD_MS,
      maxJobTimeoutSeconds: MAX_TIMEOUT,
    });
    const r = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({ name: CAP, url: container.url, capacity: 2, price_per_unit: Number(PRICE) }),
    });
    assert.equal(r.status, 200, r.body);
    await until("the container to be advertised", () =>
      orch.registry.advertised().some((a) => a.key === `byoc/${CAP}`),
    );
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      payments: { signer: gwKey, sender: new Sender({ signer: gwKey, time, senders }) },
    });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await new Promise((r) => container?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test("an SSE job shorter than the debit period is charged its seconds, and the stream ends with the balance", async () => {
    // Above the gateway's 120 s threshold: it sends no tickets, so every change is the orchestrator's charge.
    setBalance(5000n);
    const started = performance.now();
    const r = await fetch(`${gw.url}/process/request/sse/600`, {
      method: "POST",
      headers: { livepeer: clientJob(30), accept: "text/event-stream", "content-type": "application/json" },
      body: "{}",
    });
    const body = await r.text();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.status, 200, body);
    assert.match(r.headers.get("content-type") ?? "", /text\/event-stream/);
    await idle();
    const charged = 5000n - balance();
    // max(1, ceil(elapsed)) seconds at 10 wei/s: 10 wei for 0.6 s of work (at most the seconds measured here).
    assert.ok(charged >= PRICE, `charged ${charged} wei`);
    assert.ok(charged <= PRICE * BigInt(Math.ceil(seconds)), `charged ${charged} wei for ${seconds} s`);
    assert.equal(charged % PRICE, 0n, "whole seconds");
    // The container's events pass unchanged, then the balance after the charge, through the gateway.
    assert.ok(body.startsWith('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n'), body);
    assert.ok(body.endsWith(`event: balance\ndata: {"balance": ${balance()}}\n\n`), body);
  });

  test("short SSE jobs drain the balance: 5 jobs cost at least 5 seconds of price", async () => {
    setBalance(5000n);
    for (let i = 0; i < 5; i++) {
      const r = await call(orch, "/process/request/sse/50", {
        method: "POST",
        headers: { livepeer: await signedJob(30), accept: "text/event-stream" },
        body: "{}",
      });
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /event: balance\ndata: \{"balance": \d+\}\n\n$/);
    }
    await idle();
    assert.equal(5000n - balance(), 5n * PRICE, "one second each (the minimum)");
  });

  test("a client that leaves mid-job is charged the seconds the container worked", async () => {
    setBalance(5000n);
    const goneBefore = container.gone();
    const started = performance.now();
    await assert.rejects(
      fetch(`${gw.url}/process/request/sleep/5000`, {
        method: "POST",
        headers: { livepeer: clientJob(30), "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(1500),
      }),
    );
    await until("the container to see the client leave", () => container.gone() > goneBefore);
    await idle();
    await until("the charge", () => balance() < 5000n);
    const seconds = (performance.now() - started) / 1000;
    const charged = 5000n - balance();
    assert.ok(charged >= 2n * PRICE, `1.5 s of work costs 2 s: charged ${charged} wei`);
    assert.ok(charged <= PRICE * BigInt(Math.ceil(seconds)), `charged ${charged} wei for ${seconds} s`);
  });

  test("a job cut by its timeout_seconds is charged the time it ran", async () => {
    setBalance(5000n);
    const livepeer = await signedJob(1);
    const started = performance.now();
    const r = await call(orch, "/process/request/sleep/5000", {
      method: "POST",
      headers: { livepeer, "content-type": "application/json" },
      body: "{}",
    });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.status, 502, r.body);
    assert.match(r.body, /timed out waiting for the container/);
    await idle();
    const charged = 5000n - balance();
    // Cut after 1 s: ceil(1.00…) = 2 s, at most the seconds measured here.
    assert.ok(charged >= PRICE, `charged ${charged} wei`);
    assert.ok(charged <= PRICE * BigInt(Math.ceil(seconds)), `charged ${charged} wei for ${seconds} s`);
  });

  test("a job whose credit runs out is stopped (402) with the balance still ≥ 0", async () => {
    // 64 s of credit, as in the issue; then other work of the same sender spends 60 s of it while
    // this 10 s job runs: 4 s are left, the job is stopped when what is left cannot pay the next second.
    setBalance(64n * PRICE);
    const started = performance.now();
    const job = call(orch, "/process/request/sleep/10000", {
      method: "POST",
      headers: { livepeer: await signedJob(30), "content-type": "application/json" },
      body: "{}",
    });
    await until("the job to run", () => orch.registry.container(container.url)?.inUse === 1);
    gate.debit(gwKey.address, CAP, Rat.of(PRICE), 60n);
    const r = await job;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.status, 402, r.body);
    assert.match(r.body, /job stopped after \d+ s: the credit left for slow/);
    assert.ok(seconds < 6, `stopped after ${seconds} s, not at the end of the 10 s job`);
    await idle();
    assert.ok(balance() >= 0n, `balance ${balance()} went below zero`);
    assert.ok(balance() < 2n * PRICE, `the credit was used: ${balance()} wei left`);
  });

  test("an SSE job whose credit runs out ends with go-livepeer's insufficient-balance events, balance ≥ 0", async () => {
    setBalance(64n * PRICE);
    const job = call(orch, "/process/request/sse/10000", {
      method: "POST",
      headers: { livepeer: await signedJob(30), accept: "text/event-stream" },
      body: "{}",
    });
    await until("the job to run", () => orch.registry.container(container.url)?.inUse === 1);
    gate.debit(gwKey.address, CAP, Rat.of(PRICE), 60n);
    const r = await job;
    assert.equal(r.status, 200);
    assert.ok(
      r.body.endsWith('event: insufficient balance\ndata: {"balance": 0}\n\ndata: [DONE]\n\n'),
      JSON.stringify(r.body),
    );
    assert.ok(!r.body.includes('"n":2'), "the stream was stopped before the container's end");
    await idle();
    assert.ok(balance() >= 0n, `balance ${balance()} went below zero`);
  });

  test("--max-job-timeout caps timeout_seconds with a 400 naming the flag", async () => {
    setBalance(5000n);
    const long = await call(orch, "/process/request/sleep/0", {
      method: "POST",
      headers: { livepeer: await signedJob(MAX_TIMEOUT + 1), "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(long.status, 400, long.body);
    assert.match(long.body, /timeout_seconds 61 exceeds this orchestrator's --max-job-timeout of 60 s/);
    assert.equal(balance(), 5000n, "a refused job costs nothing");
    const ok = await call(orch, "/process/request/sleep/0", {
      method: "POST",
      headers: { livepeer: await signedJob(MAX_TIMEOUT), "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(ok.status, 200, ok.body);
    await assert.rejects(
      startOrchestrator({ port: 0, dataDir: dir, maxJobTimeoutSeconds: 86_401 }),
      /--max-job-timeout must be whole seconds between 1 and 86400/,
    );
  });
});
