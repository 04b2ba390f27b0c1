/**
 * Fault injection: a container crashes. Container A is `tributary serve examples/text-reverse` as a
 * child process, registered (by itself, ORCH_URL/ORCH_SECRET) with orchestrator O1; container B
 * serves the same capability in process behind orchestrator O2; a gateway knows both orchestrators.
 * A is SIGKILLed, then started again on the same port.
 *
 * Pass criteria: O1 withdraws `byoc/text-reverse` from its advertisement (GET /capabilities and
 * gRPC GetOrchestrator) within one health interval plus one poll timeout (plus slack for a loaded
 * machine: the health monitor withdraws at the first failed poll); every job sent through the
 * gateway meanwhile succeeds on O2; when A is back, O1 advertises the capability again and the
 * gateway sends jobs to it again.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { createGrpcOrchestratorClient } from "../../src/gateway/discovery/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { OrchestratorRequestSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until as waitUntil } from "../until.ts";
import { httpsCall } from "./helpers.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const EXAMPLE = new URL("../../examples/text-reverse", import.meta.url).pathname;
const HEALTH = { intervalMs: 1000, timeoutMs: 500, failureThreshold: 1 };
/** Event-loop and process-start delays on a busy 2-core machine; the bound stays one poll cycle wide. */
const SLACK_MS = 3000;
const CAP = "byoc/text-reverse";

const dirs: string[] = [];
const children: ChildProcess[] = [];
let o1: RunningOrchestrator;
let o2: RunningOrchestrator;
let b: RunningRunner;
let gw: RunningGateway;
let portA: number;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

async function orchestrator(): Promise<RunningOrchestrator> {
  const dir = mkdtempSync(join(tmpdir(), "fault-container-"));
  dirs.push(dir);
  return startOrchestrator({
    port: 0,
    orchSecret: "s",
    dataDir: dir,
    health: HEALTH,
    reload: { sighup: false },
  });
}

/** Container A: the text-reverse example served by the CLI, registering itself with O1. */
function startA(): ChildProcess {
  const child = spawn(process.execPath, [MAIN, "serve", EXAMPLE, "--port", String(portA)], {
    stdio: "ignore",
    env: {
      ...process.env,
      ORCH_URL: o1.url,
      ORCH_SECRET: "s",
      CAPABILITY_URL: `http://127.0.0.1:${portA}`,
      CAPABILITY_CAPACITY: "4",
    },
  });
  children.push(child);
  return child;
}

async function advertised(orch: RunningOrchestrator): Promise<boolean> {
  const r = await httpsCall(orch.url, "/capabilities");
  const body = JSON.parse(r.body) as { capabilities: { capability: string }[] };
  return body.capabilities.some((c) => c.capability === CAP);
}

/** Whether GetOrchestrator's capability prices list the BYOC capability text-reverse. */
async function offeredByGrpc(orch: RunningOrchestrator): Promise<boolean> {
  const grpc = createGrpcOrchestratorClient({ connectTimeoutMs: 5000 });
  try {
    const info = await grpc.getOrchestrator(orch.url, create(OrchestratorRequestSchema, {}));
    return info.capabilitiesPrices.some((p) => p.constraint === "text-reverse");
  } finally {
    grpc.close();
  }
}

const until = (what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> =>
  waitUntil(what, check, ms, 50);

/** One job through the gateway; returns the orchestrator that served it. */
async function job(text: string): Promise<string> {
  const r = await fetch(`${gw.url}/text-reverse`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  assert.deepEqual(JSON.parse(body), { text: [...text].reverse().join("") });
  return String(r.headers.get("x-orchestrator-url"));
}

before(async () => {
  portA = await freePort();
  [o1, o2] = await Promise.all([orchestrator(), orchestrator()]);
  b = await startRunner(textReverse, { port: 0 });
  const reg = await httpsCall(o2.url, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({ name: "text-reverse", url: b.url, capacity: 4, price_per_unit: 0 }),
  });
  assert.equal(reg.status, 200, reg.body);
  startA();
  await until(
    "both orchestrators to advertise text-reverse",
    async () => (await advertised(o1)) && (await advertised(o2)),
  );
  // Random selection, so both orchestrators get jobs (latency selection would stick to one).
  gw = await startGateway({
    port: 0,
    discovery: { orchAddr: [o1.url, o2.url] },
    strategy: "random",
    refreshIntervalMs: 500,
  });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await gw?.close();
  await o1?.close();
  await o2?.close();
  await b?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a crashed container is withdrawn within a health interval, jobs go elsewhere, and it is restored when back", async (t) => {
  // Both orchestrators serve jobs before the crash.
  const servedBy = new Set<string>();
  for (let i = 0; i < 40 && servedBy.size < 2; i++) servedBy.add(await job(`before ${i}`));
  assert.deepEqual([...servedBy].sort(), [o1.url, o2.url].sort(), "both orchestrators served jobs");
  assert.equal(await offeredByGrpc(o1), true, "GetOrchestrator offers the BYOC capability");

  // Crash container A.
  const a = children.at(-1)!;
  const exited = new Promise((r) => a.once("exit", r));
  const killedAt = performance.now();
  a.kill("SIGKILL");
  await exited;
  await until("O1 to withdraw text-reverse", async () => !(await advertised(o1)));
  const withdrawnMs = performance.now() - killedAt;
  t.diagnostic(
    `withdrawn ${withdrawnMs.toFixed(0)} ms after the kill (interval ${HEALTH.intervalMs} ms, timeout ${HEALTH.timeoutMs} ms)`,
  );
  assert.ok(
    withdrawnMs <= HEALTH.intervalMs + HEALTH.timeoutMs + SLACK_MS,
    `withdrawn within one health interval + timeout (took ${withdrawnMs.toFixed(0)} ms)`,
  );
  assert.equal(await offeredByGrpc(o1), false, "GetOrchestrator no longer offers it either");

  // New jobs go to O2.
  for (let i = 0; i < 10; i++) assert.equal(await job(`during ${i}`), o2.url, `job ${i} went to O2`);

  // Container A comes back (same port, registers itself again): restored.
  startA();
  await until("O1 to advertise text-reverse again", () => advertised(o1));
  await waitUntil(
    "the gateway to send jobs to O1 again",
    async () => (await job("after")) === o1.url,
    30_000,
    100,
  );
});
