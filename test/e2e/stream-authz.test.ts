/**
 * Who may control a stream (issue #12 item 7). On the orchestrator, only the sender whose signature
 * started a BYOC stream (or the operator, with the orchestrator secret, for a stop) reaches it:
 * another sender's stop, update and payment answer 404 as for an unknown stream, the same id cannot
 * be started twice, and a V0 signature seen on another job cannot be replayed onto the stream by a
 * made-up `id`. On the gateway, a stream's update, status, stop and data routes need the stream's
 * control key (in the URLs the start answered), and its trickle channels are not named after the id.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Address, keccak256, stringToBytes } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { priceInfoFromGoJson, ticketParamsFromGoJson } from "../../src/protocol/ticket-params-json.ts";
import { defineLivePipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call, inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const alice = privateKeyToAccount(`0x${"a1".repeat(32)}`);
const bob = privateKeyToAccount(`0x${"b2".repeat(32)}`);
const carol = privateKeyToAccount(`0x${"c3".repeat(32)}`);
const CAP = "authz-stream";
const SECRET = "operator-secret";

/** A `Livepeer` header signed V0 by `who` (personal_sign(keccak256(request + parameters))). */
async function signedJob(who: PrivateKeyAccount, extra: Record<string, unknown> = {}): Promise<string> {
  const request = (extra.request as string | undefined) ?? "{}";
  const parameters = (extra.parameters as string | undefined) ?? "{}";
  const sig = await who.signMessage({ message: { raw: keccak256(stringToBytes(request + parameters)) } });
  return Buffer.from(
    JSON.stringify({
      capability: CAP,
      timeout_seconds: 10,
      sender: who.address,
      sig,
      ...extra,
      request,
      parameters,
    }),
  ).toString("base64");
}

/** The header a sender's stop, update or payment of stream `id` carries (as go-livepeer's gateway). */
const about = (who: PrivateKeyAccount, id: string) =>
  signedJob(who, { request: JSON.stringify({ stream_id: id }) });

/** A live container that records the params updates it receives. */
async function recordingRunner(updates: Record<string, unknown>[]): Promise<RunningRunner> {
  const runner = await startRunner(
    defineLivePipeline({
      name: CAP,
      start: () => {},
      params: (p) => {
        updates.push(p);
      },
    }),
    { port: 0 },
  );
  await runner.loaded;
  return runner;
}

describe("orchestrator: a BYOC stream is controlled by its sender only (priced, on chain)", () => {
  const dir = mkdtempSync(join(tmpdir(), "stream-authz-"));
  const updates: Record<string, unknown>[] = [];
  let runner: RunningRunner;
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  const sessions = new Map<string, Sender>();

  before(async () => {
    runner = await recordingRunner(updates);
    let seed = 0;
    gate = new PaymentGate({
      recipient: inMemoryRecipient(ORCH, 1000n, (n) => new Uint8Array(n).fill(++seed)),
      balances: new Balances(),
      enqueueWinner: () => {},
      isActive: () => true,
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      models: parseAiModels("[]"),
    });
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: SECRET },
      body: JSON.stringify({ name: CAP, url: runner.url, capacity: 1, price_per_unit: 1, price_scaling: 1 }),
    });
    assert.equal(reg.status, 200, reg.body);
    await until("the container to be healthy", () => orch.registry.advertised().length === 1);
  });

  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `n` tickets from `who` for the capability, on a fresh `/process/token`. */
  async function pay(who: PrivateKeyAccount, n: number): Promise<string> {
    const sig = await signPayload(who, who.address);
    const r = await call(orch, "/process/token", {
      headers: {
        "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: who.address, sig })).toString("base64"),
        "livepeer-capability": CAP,
      },
    });
    assert.equal(r.status, 200, r.body);
    const token = JSON.parse(r.body) as Record<string, unknown>;
    const sender = sessions.get(who.address) ?? new Sender({ signer: who, time, senders });
    sessions.set(who.address, sender);
    const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
    return encodePaymentHeader(await sender.createPayment(session, n, priceInfoFromGoJson(token.price)));
  }

  const post = (path: string, headers: Record<string, string>, body = "{}") =>
    call(orch, path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  const running = () => orch.streamCount === 1 && runner.session !== undefined;

  test("strangers (funded or not) cannot stop, update, pay for or take over Alice's stream; Alice can", async () => {
    const start = await post("/ai/stream/start", {
      livepeer: await signedJob(alice, { id: "s-1", request: '{"stream_id":"s-1"}' }),
      "livepeer-payment": await pay(alice, 1),
    });
    assert.equal(start.status, 200, start.body);
    await until("Alice's stream to run on the container", () => running());
    const bobPayment = await pay(bob, 1); // Bob is funded: his tickets are good

    const unfundedStop = await post("/ai/stream/stop", { livepeer: await about(carol, "s-1") });
    assert.equal(unfundedStop.status, 404, unfundedStop.body);
    const fundedStop = await post("/ai/stream/stop", {
      livepeer: await about(bob, "s-1"),
      "livepeer-payment": bobPayment,
    });
    assert.equal(fundedStop.status, 404, fundedStop.body);
    const update = await post(
      "/ai/stream/update",
      { livepeer: await about(bob, "s-1"), "livepeer-payment": await pay(bob, 1) },
      JSON.stringify({ prompt: "bob's" }),
    );
    assert.equal(update.status, 404, update.body);
    assert.equal(update.body, unfundedStop.body, "the same answer as for a stream that does not exist");
    const unknown = await post("/ai/stream/stop", { livepeer: await about(alice, "no-such-stream") });
    assert.equal(unknown.status, 404);
    assert.equal(
      unknown.body.replace("no-such-stream", "s-1"),
      unfundedStop.body,
      "nothing tells Alice's stream from a missing one",
    );
    const bobPays = await post("/ai/stream/payment", {
      livepeer: await about(bob, "s-1"),
      "livepeer-payment": await pay(bob, 1),
    });
    assert.equal(bobPays.status, 404, bobPays.body);
    assert.equal(gate.balances.balance(bob.address, CAP), undefined, "none of Bob's tickets were taken");
    const takeover = await post("/ai/stream/start", {
      livepeer: await signedJob(bob, { id: "s-1", request: '{"stream_id":"s-1"}' }),
      "livepeer-payment": await pay(bob, 1),
    });
    assert.equal(takeover.status, 409, takeover.body);
    assert.doesNotMatch(takeover.body, new RegExp(alice.address.slice(2), "i"), "Alice is not named");
    // A V0 signature covers request + parameters only: Alice's signature of some other job ("{}"
    // and "{}") with a made-up id does not name her stream.
    const replay = await post("/ai/stream/stop", { livepeer: await signedJob(alice, { id: "s-1" }) });
    assert.equal(replay.status, 400, replay.body);
    assert.match(replay.body, /stream_id/);
    const wrongSecret = await post("/ai/stream/stop", {
      authorization: "not-the-secret",
      livepeer: Buffer.from(JSON.stringify({ request: '{"stream_id":"s-1"}', timeout_seconds: 10 })).toString(
        "base64",
      ),
    });
    assert.equal(wrongSecret.status, 400, "an unsigned stop with a wrong secret is not verified");

    assert.equal(orch.streamCount, 1, "Alice's stream still runs");
    assert.ok(runner.session !== undefined, "and the container still has it");
    assert.equal(updates.length, 0, "Bob's update did not reach the container");

    const own = await post(
      "/ai/stream/update",
      { livepeer: await about(alice, "s-1"), "livepeer-payment": await pay(alice, 1) },
      JSON.stringify({ prompt: "alice's" }),
    );
    assert.equal(own.status, 200, own.body);
    await until("Alice's update to reach the container", () => updates.some((u) => u.prompt === "alice's"));
    const ownPayment = await post("/ai/stream/payment", {
      livepeer: await about(alice, "s-1"),
      "livepeer-payment": await pay(alice, 1),
    });
    assert.equal(ownPayment.status, 200, ownPayment.body);
    assert.ok(Number(ownPayment.headers["livepeer-balance"]) > 0);
    const stop = await post("/ai/stream/stop", { livepeer: await about(alice, "s-1") });
    assert.equal(stop.status, 200, stop.body);
    assert.equal(orch.streamCount, 0);
    await until("the container to see the stop", () => runner.session === undefined);
  });

  test("the operator stops any stream with the orchestrator secret", async () => {
    const start = await post("/ai/stream/start", {
      livepeer: await signedJob(alice, { id: "s-2", request: '{"stream_id":"s-2"}' }),
      "livepeer-payment": await pay(alice, 1),
    });
    assert.equal(start.status, 200, start.body);
    await until("the stream to run", () => running());
    const stop = await post("/ai/stream/stop", {
      authorization: SECRET,
      livepeer: Buffer.from(JSON.stringify({ request: '{"stream_id":"s-2"}', timeout_seconds: 10 })).toString(
        "base64",
      ),
    });
    assert.equal(stop.status, 200, stop.body);
    assert.equal(orch.streamCount, 0);
    await until("the container to see the stop", () => runner.session === undefined);
  });
});

describe("orchestrator offchain: a signed stream is its signer's, an unsigned one stays open", () => {
  const dir = mkdtempSync(join(tmpdir(), "stream-authz-off-"));
  let runner: RunningRunner;
  let orch: RunningOrchestrator;

  before(async () => {
    runner = await recordingRunner([]);
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      health: { intervalMs: 100, failureThreshold: 1 },
    });
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: SECRET },
      body: JSON.stringify({ name: CAP, url: runner.url, capacity: 1 }),
    });
    assert.equal(reg.status, 200, reg.body);
    await until("the container to be healthy", () => orch.registry.advertised().length === 1);
  });

  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (headers: Record<string, string>, path: string) =>
    call(orch, path, { method: "POST", headers, body: "{}" });
  const unsigned = (id: string) =>
    Buffer.from(JSON.stringify({ id, request: "{}", capability: CAP, timeout_seconds: 10 })).toString(
      "base64",
    );

  test("Alice's signed stream: Bob's and unsigned stops are 404; hers is 200", async () => {
    const start = await post(
      { livepeer: await signedJob(alice, { id: "o-1", request: '{"stream_id":"o-1"}' }) },
      "/ai/stream/start",
    );
    assert.equal(start.status, 200, start.body);
    assert.equal((await post({ livepeer: await about(bob, "o-1") }, "/ai/stream/stop")).status, 404);
    assert.equal((await post({ livepeer: unsigned("o-1") }, "/ai/stream/stop")).status, 404);
    assert.equal((await post({ livepeer: unsigned("o-1") }, "/ai/stream/start")).status, 409);
    assert.equal(orch.streamCount, 1);
    assert.equal((await post({ livepeer: await about(alice, "o-1") }, "/ai/stream/stop")).status, 200);
    assert.equal(orch.streamCount, 0);
    await until("the container to see the stop", () => runner.session === undefined);
  });

  test("an unsigned stream (as our offchain gateway starts them) is stopped unsigned; a signer cannot reach it", async () => {
    const start = await post({ livepeer: unsigned("o-2") }, "/ai/stream/start");
    assert.equal(start.status, 200, start.body);
    assert.equal((await post({ livepeer: await about(bob, "o-2") }, "/ai/stream/stop")).status, 404);
    assert.equal((await post({ livepeer: unsigned("o-2") }, "/ai/stream/stop")).status, 200);
    assert.equal(orch.streamCount, 0);
    await until("the container to see the stop", () => runner.session === undefined);
  });
});

describe("gateway: a stream is reached through the URLs its start answered, not by its id", () => {
  const dir = mkdtempSync(join(tmpdir(), "stream-authz-gw-"));
  const updates: Record<string, unknown>[] = [];
  let runner: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  before(async () => {
    runner = await recordingRunner(updates);
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      models: parseAiModels(
        JSON.stringify([{ pipeline: "live-video-to-video", model_id: CAP, url: runner.url }]),
      ),
    });
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: SECRET },
      body: JSON.stringify({ name: CAP, url: runner.url, capacity: 1 }),
    });
    assert.equal(reg.status, 200, reg.body);
    await until("the container to be healthy", () => orch.registry.advertised().length === 2);
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] } });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A user's guess of a route of stream `id`, without its key (or with a wrong one). */
  const guess = (base: string, id: string, route: string, key = "") =>
    fetch(`${gw.url}${base}/${id}/${route}${key === "" ? "" : `?key=${key}`}`, {
      method: route === "status" || route === "data" ? "GET" : "POST",
      ...(route === "status" || route === "data" ? {} : { body: JSON.stringify({ prompt: "stranger's" }) }),
    });

  test("BYOC: another user who knows or picks the id cannot stop, update, read or take the stream", async () => {
    const start = (streamId: string) =>
      fetch(`${gw.url}/process/stream/start`, {
        method: "POST",
        headers: {
          livepeer: Buffer.from(
            JSON.stringify({
              request: "{}",
              parameters: JSON.stringify({ enable_data_output: true }),
              capability: CAP,
              timeout_seconds: 30,
            }),
          ).toString("base64"),
        },
        body: JSON.stringify({ stream_id: streamId }),
      });
    const r = await start("cam");
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as Record<string, string>;
    assert.equal(s.stream_id, "cam", "the client's id is kept");
    await until("the stream to run on the orchestrator", () => orch.streamCount === 1);

    for (const route of ["stop", "update", "status", "data"]) {
      const bare = await guess("/process/stream", "cam", route);
      assert.equal(bare.status, 404, `${route} without the key`);
      const wrong = await guess("/process/stream", "cam", route, "0".repeat(32));
      assert.equal(wrong.status, 404, `${route} with a wrong key`);
      const unknown = await guess("/process/stream", "nope", route);
      assert.equal((await wrong.text()).replace("cam", "nope"), await unknown.text(), "as an unknown id");
    }
    const key = new URL(s.stop_url as string).searchParams.get("key") ?? "";
    assert.match(key, /^[0-9a-f]{32}$/, "the URLs carry the stream's key");
    const again = await start("cam");
    assert.equal(again.status, 409, await again.text());

    const status = (await (await fetch(s.status_url as string)).json()) as Record<string, unknown>;
    assert.equal(status.state, "running", "the stream still runs");
    assert.equal(orch.streamCount, 1);
    assert.equal(updates.length, 0, "no stranger's update reached the container");

    const upd = await fetch(s.update_url as string, {
      method: "POST",
      body: JSON.stringify({ prompt: "own" }),
    });
    assert.equal(upd.status, 200, await upd.text());
    await until("the owner's update to reach the container", () => updates.some((u) => u.prompt === "own"));
    const data = await fetch(s.data_url as string);
    assert.equal(data.status, 200);
    await data.body?.cancel();
    const stop = await fetch(s.stop_url as string, { method: "POST", body: "{}" });
    assert.equal(stop.status, 200, await stop.text());
    await until("the stream to stop on the orchestrator", () => orch.streamCount === 0);
    await until("the container to see the stop", () => runner.session === undefined);
  });

  test("live video: the id names no trickle channel, and its routes need the key", async () => {
    const r = await fetch(`${gw.url}/live/video-to-video`, {
      method: "POST",
      body: JSON.stringify({ model_id: CAP, stream_id: "lv" }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as Record<string, string>;
    assert.doesNotMatch(s.publish_url as string, /\/lv-in$/, "channel names are random, not the id");
    const closeInput = await fetch(`${gw.url}/live/trickle/lv-in`, { method: "DELETE" });
    // trickle's answer to a DELETE of an unknown channel; 200 would have ended the stream's input
    assert.equal(closeInput.status, 400, "a stranger cannot end the input by guessing its channel");
    assert.equal((await guess("/live/video-to-video", "lv", "stop")).status, 404);
    assert.equal((await guess("/live/video-to-video", "lv", "update")).status, 404);
    assert.equal((await guess("/live/video-to-video", "lv", "status")).status, 404);
    const status = (await (await fetch(s.status_url as string)).json()) as Record<string, unknown>;
    assert.equal(status.state, "running", "the stream still runs");
    const stop = await fetch(s.stop_url as string, { method: "POST" });
    assert.equal(stop.status, 200, await stop.text());
    await until("the stream to stop on the orchestrator", () => orch.streamCount === 0);
  });
});
