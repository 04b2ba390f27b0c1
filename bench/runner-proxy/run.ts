/**
 * What the orchestrator's live runner reverse proxy adds over calling the runner directly, measured in
 * one run against the same runner, the paths interleaved:
 *
 * - plain HTTP: `POST /echo` with a small JSON body, p50 and p99 of the whole exchange;
 * - SSE: `POST /generate` (examples/runner-sse: one event per word of an 8-word prompt, then
 *   `[DONE]`), time to the first event and to the end of the stream, p50 and p99;
 * - WebSocket: the round trip of one small text message on an open connection (the upgrade itself
 *   is not timed), p50 and p99.
 *
 * Direct: `http://runner/…` with keep-alive connections. Through the proxy: the persistent session's
 * `app_url` (`https://orch/apps/{runner}/session/{session}/app/…`) with keep-alive TLS connections,
 * so the proxied figures include TLS on the client's hop (a client pays that too); the orchestrator
 * reaches the runner over plain HTTP. The runner (bench/runner-proxy/runner.ts: our live runner SDK,
 * registered by heartbeats), the orchestrator (bench/runner-proxy/orchestrator.ts: offchain, live
 * runners on) and the client (this process) each run in their own process. One request at a time.
 *
 *   node bench/runner-proxy/run.ts [--quick]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type WsClient, wsConnect } from "../../test/conformance/live-runner-kit.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  exchange,
  fmt,
  latencies,
  logToStderr,
  markdownTable,
  percentile,
  ROOT,
  ratio,
  type Target,
} from "../lib.ts";

function config(quick: boolean) {
  return {
    /** Sequential exchanges per path. */
    perTarget: quick ? 600 : 3000,
    rounds: quick ? 3 : 5,
    warmup: quick ? 50 : 200,
  };
}

/** The body of a plain HTTP exchange (echoed back as is). */
const ECHO_BODY = JSON.stringify({ text: "the runner proxy benchmark ✓", n: 42 });
/** The SSE prompt: eight words, eight events, then `[DONE]`. */
const PROMPT = JSON.stringify({ prompt: "one two three four five six seven eight" });
const SSE_EXPECTED = `${["eight", "seven", "six", "five", "four", "three", "two", "one"]
  .map((t) => `data: {"token":"${t}"}\n\n`)
  .join("")}data: [DONE]\n\n`;

/** A child process that prints `READY {json}` once up; closing its stdin stops it. */
interface Child<T> {
  ready: T;
  close(): Promise<void>;
}

function startChild<T>(script: string, args: string[]): Promise<Child<T>> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, script), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: "silent" },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const hard = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(hard);
    }
  };
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith("READY ")) resolve({ ready: JSON.parse(line.slice(6)) as T, close });
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}):\n${stderr}`)));
  });
}

/**
 * One SSE exchange: resolves with the time to the first event and to the end of the stream (ms);
 * rejects unless it is 200 with exactly the expected events.
 */
function sseExchange(
  doRequest: typeof httpRequest,
  url: string,
  agent: HttpAgent,
): Promise<{ first: number; full: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = doRequest(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let got = "";
        let first = Number.NaN;
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          got += c;
          if (Number.isNaN(first) && got.includes("\n\n")) first = performance.now() - started;
        });
        res.on("end", () => {
          if (res.statusCode !== 200 || got !== SSE_EXPECTED)
            reject(new Error(`${url}: ${res.statusCode} ${got.slice(0, 300)}`));
          else resolve({ first, full: performance.now() - started });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(PROMPT);
  });
}

/** One WebSocket round trip on an open connection (ms); rejects on a wrong echo. */
async function wsRoundTrip(ws: WsClient, n: number): Promise<number> {
  const msg = `ping ${n}`;
  const started = performance.now();
  ws.send(msg);
  const got = await ws.next();
  if (got !== msg) throw new Error(`WebSocket echo: got ${got.slice(0, 100)}`);
  return performance.now() - started;
}

/** POSTs `{}` to an orchestrator URL and returns the JSON answer (self-signed accepted). */
function postOrch(url: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: "POST", rejectUnauthorized: false, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(JSON.parse(body) as Record<string, string>)
          : reject(new Error(`${url}: ${res.statusCode} ${body}`)),
      );
    });
    req.on("error", reject);
    req.end("{}");
  });
}

/** Runs the runner-proxy benchmark; returns its rows of the combined table and its own table. */
export async function runnerProxyBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const { perTarget, rounds, warmup } = config(opts.quick);
  const agents: HttpAgent[] = [];
  const sockets: WsClient[] = [];
  const orch = await startChild<{ url: string }>("bench/runner-proxy/orchestrator.ts", []);
  let runner: Child<{ url: string; runnerId: string }> | undefined;
  try {
    runner = await startChild("bench/runner-proxy/runner.ts", [orch.ready.url]);
    const { url: runnerUrl, runnerId } = runner.ready;
    const session = await postOrch(`${orch.ready.url}/apps/${encodeURIComponent(runnerId)}/session`);
    const appUrl = session.app_url as string;
    log(`runner-proxy: runner ${runnerId} at ${runnerUrl}, session ${session.session_id}`);

    const direct = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const proxied = new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    agents.push(direct, proxied);
    const wsDirect = await wsConnect(`${runnerUrl}/ws`);
    const wsProxied = await wsConnect(`${appUrl}/ws`);
    sockets.push(wsDirect, wsProxied);
    if (wsDirect.status !== 101 || wsProxied.status !== 101)
      throw new Error(`WebSocket upgrade: direct ${wsDirect.status}, proxied ${wsProxied.status}`);

    const json = { "content-type": "application/json" };
    const firstEvent = new Map<string, number[]>([
      ["sse-direct", []],
      ["sse-proxy", []],
    ]);
    const sseTarget = (
      name: string,
      doRequest: typeof httpRequest,
      url: string,
      agent: HttpAgent,
    ): Target => ({
      name,
      send: async () => {
        const { first, full } = await sseExchange(doRequest, url, agent);
        firstEvent.get(name)?.push(first);
        return full;
      },
    });
    let wsN = 0;
    const targets: Target[] = [
      {
        name: "http-direct",
        send: () => exchange(httpRequest, `${runnerUrl}/echo`, direct, json, {}, ECHO_BODY, ECHO_BODY),
      },
      {
        name: "http-proxy",
        send: () => exchange(httpsRequest, `${appUrl}/echo`, proxied, json, {}, ECHO_BODY, ECHO_BODY),
      },
      sseTarget("sse-direct", httpRequest, `${runnerUrl}/generate`, direct),
      sseTarget("sse-proxy", httpsRequest, `${appUrl}/generate`, proxied),
      { name: "ws-direct", send: () => wsRoundTrip(wsDirect, wsN++) },
      { name: "ws-proxy", send: () => wsRoundTrip(wsProxied, wsN++) },
    ];
    log(`runner-proxy: ${perTarget} sequential exchanges per path in ${rounds} interleaved rounds…`);
    const lat = await latencies(targets, { perTarget, rounds, warmup });
    // The warm-up exchanges recorded first-event times too: keep the timed ones only.
    for (const [name, list] of firstEvent) {
      const timed = list.slice(list.length - (lat.get(name) as number[]).length);
      firstEvent.set(
        name,
        timed.sort((a, b) => a - b),
      );
    }

    const stats = (list: number[]) => ({ p50: percentile(list, 50), p99: percentile(list, 99) });
    const measures = [
      { what: "plain HTTP exchange", d: stats(lat.get("http-direct")!), p: stats(lat.get("http-proxy")!) },
      {
        what: "SSE, first event",
        d: stats(firstEvent.get("sse-direct")!),
        p: stats(firstEvent.get("sse-proxy")!),
      },
      {
        what: "SSE, full stream (9 events)",
        d: stats(lat.get("sse-direct")!),
        p: stats(lat.get("sse-proxy")!),
      },
      {
        what: "WebSocket message round trip",
        d: stats(lat.get("ws-direct")!),
        p: stats(lat.get("ws-proxy")!),
      },
    ];
    const records = measures.map((m) => ({
      measure: m.what,
      "direct p50": fmt(m.d.p50, 3),
      "proxied p50": fmt(m.p.p50, 3),
      "added p50": fmt(m.p.p50 - m.d.p50, 3),
      "direct p99": fmt(m.d.p99, 3),
      "proxied p99": fmt(m.p.p99, 3),
      "added p99": fmt(m.p.p99 - m.d.p99, 3),
    }));
    const rows: BenchRow[] = measures.flatMap((m) =>
      (["p50", "p99"] as const).map((p) => ({
        component: "runner-proxy",
        measure: `${m.what}, ${p} added by the proxy (ms, 1 at a time)`,
        ours: fmt(m.p[p] - m.d[p], 3),
        baseline: `direct ${fmt(m.d[p], 3)}`,
        ratio: ratio(m.p[p], m.d[p]),
        goal: "",
        met: "",
      })),
    );
    const detail =
      `live runner reverse proxy vs a direct call (ms; ${perTarget} sequential exchanges per path, ` +
      `${rounds} interleaved rounds; proxied = HTTPS to the orchestrator, HTTP on to the runner)\n\n` +
      markdownTable(records);
    return { rows, detail };
  } finally {
    for (const s of sockets) s.close();
    for (const a of agents) a.destroy();
    await runner?.close();
    await orch.close();
  }
}

if (import.meta.main) {
  const r = await runnerProxyBench({ quick: process.argv.includes("--quick") });
  console.log(r.detail);
}
