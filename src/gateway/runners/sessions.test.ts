import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { TributaryError } from "../../node/errors.ts";
import { silentLogger } from "../../node/logger.ts";
import type { RunnerPayer } from "../../payments/runner-payer.ts";
import type { RunnerInfo } from "../../protocol/live-runners.ts";
import type { RunnerDirectory } from "../discovery/runners.ts";
import type { OrchestratorCall, OrchestratorHttp } from "../orch-http.ts";
import { RunnerSessions } from "./sessions.ts";

const runner = (orch: string, over: Partial<RunnerInfo> = {}): RunnerInfo => ({
  url: `${orch}/apps/r/session`,
  app: "a/pp",
  route: "r",
  mode: "persistent",
  capacity: 1,
  capacityUsed: 0,
  capacityAvailable: 1,
  priceInfo: { price: 10, currency: "wei", unit: "seconds" },
  orchestrator: orch,
  raw: {},
  ...over,
});

/** A directory listing `listed`, those with free capacity as candidates. */
const directory = (listed: RunnerInfo[]) =>
  ({
    listed: () => listed,
    candidates: () => listed.filter((r) => (r.capacityAvailable ?? 1) > 0),
  }) as unknown as RunnerDirectory;

/** An orchestrator HTTP client answering from `answer(url, call)`; records the calls. */
function http(answer: (url: string, call: OrchestratorCall) => { status: number; body: string }) {
  const calls: { url: string; call: OrchestratorCall }[] = [];
  const client: OrchestratorHttp = {
    send: async (url, call) => {
      calls.push({ url, call });
      const a = answer(url, call);
      const res = Readable.from([Buffer.from(a.body)]) as unknown as IncomingMessage;
      res.statusCode = a.status;
      return res;
    },
    close() {},
  };
  return { client, calls };
}

const challenge = JSON.stringify({ payment_params: "cGFyYW1z", manifest_id: "m1", orchestrator: "x" });

function payer(): RunnerPayer & { ended: string[] } {
  const ended: string[] = [];
  return {
    address: "0x0000000000000000000000000000000000000001",
    ended,
    pay: async () => ({ "Livepeer-Payment": "p", "Livepeer-Segment": "s" }),
    end: (m) => ended.push(m),
  };
}

test("a priced runner on a gateway that pays nobody: 402 PAYMENT_REQUIRED naming what to start it with", async () => {
  const { client } = http(() => ({
    status: 402,
    body: '{"error":{"code":"PAYMENT_REQUIRED","message":"x"}}',
  }));
  await using s = new RunnerSessions({
    http: client,
    runners: directory([runner("https://o1")]),
    payers: undefined,
    log: silentLogger(),
  });
  await assert.rejects(
    s.reserve("a/pp"),
    (e: TributaryError) =>
      e.code === "PAYMENT_REQUIRED" && e.status === 402 && /--remote-signer-url/.test(e.message),
  );
});

test("none listed: 404 RUNNER_NOT_FOUND; all listed full: 503 ORCHESTRATORS_BUSY", async () => {
  const { client } = http(() => ({ status: 500, body: "" }));
  const make = (listed: RunnerInfo[]) =>
    new RunnerSessions({ http: client, runners: directory(listed), payers: undefined, log: silentLogger() });
  await assert.rejects(make([]).reserve("a/pp"), (e: TributaryError) => e.code === "RUNNER_NOT_FOUND");
  await assert.rejects(
    make([runner("https://o1", { capacityAvailable: 0 })]).reserve("a/pp"),
    (e: TributaryError) => e.code === "ORCHESTRATORS_BUSY" && e.status === 503,
  );
});

test("paid reservation: an answer without session fields fails over (payer told to forget), a 403 after payment is RUNNER_SESSION_REJECTED", async () => {
  const p = payer();
  const { client, calls } = http((url, call) => {
    const paid = (call.headers as Record<string, string>)["Livepeer-Payment"] !== undefined;
    if (!paid) return { status: 402, body: challenge };
    if (url.startsWith("https://o1")) return { status: 200, body: "{}" };
    return { status: 403, body: '{"error":{"code":"BAD_SEGMENT_HEADER","message":"no"}}' };
  });
  await using s = new RunnerSessions({
    http: client,
    runners: directory([runner("https://o1"), runner("https://o2")]),
    payers: () => p,
    log: silentLogger(),
  });
  await assert.rejects(
    s.reserve("a/pp"),
    (e: TributaryError) =>
      e.code === "RUNNER_SESSION_REJECTED" && e.status === 403 && /BAD_SEGMENT_HEADER/.test(e.message),
  );
  assert.deepEqual(p.ended, ["m1", "m1"], "both paid manifests forgotten");
  assert.equal(calls.length, 4, "challenge and paid retry on each");
  assert.equal(
    (calls[0]?.call.headers as Record<string, string> | undefined)?.["Livepeer-Payer-Address"],
    p.address,
    "the challenge is asked for the payer",
  );
  assert.equal(s.size, 0);
});

test("a paid session ends: stop tells the orchestrator and the payer; the id is the gateway's own", async () => {
  const p = payer();
  const answer = JSON.stringify({
    session_id: "m1",
    app_url: "https://o1/apps/r/session/m1/app",
    control_url: "https://o1/apps/r/session/m1",
  });
  const { client, calls } = http((url, call) => {
    if (url.endsWith("/stop")) return { status: 204, body: "" };
    const paid = (call.headers as Record<string, string>)["Livepeer-Payment"] !== undefined;
    return paid ? { status: 200, body: answer } : { status: 402, body: challenge };
  });
  await using s = new RunnerSessions({
    http: client,
    runners: directory([runner("https://o1", { priceInfo: { price: 5, currency: "wei", unit: "fixed" } })]),
    payers: () => p,
    log: silentLogger(),
  });
  const session = await s.reserve("a/pp");
  assert.match(session.id, /^[0-9a-f]{32}$/);
  assert.notEqual(session.id, "m1");
  assert.equal(session.topUps, undefined, "a fixed price is paid once");
  assert.equal(s.get(session.id), session);
  await s.stop(session);
  assert.equal(s.get(session.id), undefined);
  assert.equal(calls.at(-1)?.url, "https://o1/apps/r/session/m1/stop");
  assert.deepEqual(p.ended, ["m1"]);
  assert.equal(session.ended.signal.aborted, true, "its proxied connections are cut");
});

test("close ends every session at its orchestrator and refuses new ones", async () => {
  const answer = JSON.stringify({
    session_id: "o1",
    app_url: "https://o1/apps/r/session/o1/app",
    control_url: "https://o1/apps/r/session/o1",
  });
  const { client, calls } = http((url) =>
    url.endsWith("/stop") ? { status: 204, body: "" } : { status: 200, body: answer },
  );
  const s = new RunnerSessions({
    http: client,
    runners: directory([runner("https://o1", { priceInfo: undefined, capacityAvailable: 3 })]),
    payers: undefined,
    log: silentLogger(),
  });
  const a = await s.reserve("a/pp");
  const b = await s.reserve("a/pp");
  assert.notEqual(a.id, b.id);
  await s.close();
  assert.equal(calls.filter((c) => c.url.endsWith("/stop")).length, 2);
  assert.deepEqual([a.endedBy, b.endedBy], ["closed", "closed"]);
  await assert.rejects(s.reserve("a/pp"), (e: TributaryError) => e.code === "GATEWAY_CLOSING");
});
