/**
 * `tributary dev` end to end, as a user runs it: the real CLI in a child process on ephemeral ports,
 * a text-reverse batch job through the network, then SIGINT; afterwards neither the CLI nor any
 * process it started (anvil included) is left, checked by pid.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { describePayment } from "../../src/cli/payment.ts";
import type { DevNetworkSummary } from "../../src/dev/network.ts";
import { until } from "../until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

interface Started {
  child: ChildProcess;
  summary: DevNetworkSummary;
  stderr: () => string;
}

/** Every dev process a test started and that has not exited: killed with its tree after the suite. */
const running = new Set<ChildProcess>();

/** Spawns `dev --json` on ephemeral ports and resolves with its summary line. */
function startDev(extra: string[]): Promise<Started> {
  const child = spawn(
    process.execPath,
    [MAIN, "dev", "--json", "--orchestrator-port", "0", "--gateway-port", "0", "--chain-port", "0", ...extra],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  child.once("exit", () => running.delete(child));
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`dev not ready within 60 s; stderr:\n${err}`));
    }, 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve({ child, summary: JSON.parse(line) as DevNetworkSummary, stderr: () => err });
      } catch (e) {
        child.kill("SIGKILL");
        reject(new Error(`not a JSON summary: ${line} (${(e as Error).message})`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dev exited (${code}) before ready; stderr:\n${err}`));
    });
  });
}

/** Every descendant pid of `pid` (from ps). */
function descendants(pid: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of rows)
      if (pp === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  // A zombie still answers kill(0); /proc/<pid>/stat says Z. Only a live process counts.
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" }));
  } catch {
    return false;
  }
}

/**
 * Sends SIGINT (unless `signal` is null: the process is expected to stop by itself), waits for the
 * exit with `expectedCode`, and checks that no process it had started is left.
 */
async function stopAndCheck(
  s: Started,
  expectedCode = 0,
  signal: NodeJS.Signals | null = "SIGINT",
): Promise<void> {
  const pid = s.child.pid!;
  const tree = [...new Set([...descendants(pid), ...s.summary.childPids])];
  const exited =
    s.child.exitCode !== null
      ? Promise.resolve(s.child.exitCode)
      : new Promise<number | null>((resolve) => s.child.once("exit", (code) => resolve(code)));
  if (signal) s.child.kill(signal);
  const code = await Promise.race([
    exited,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 20_000).unref()),
  ]);
  if (code === "timeout") {
    s.child.kill("SIGKILL");
    assert.fail(`dev did not exit within 20 s; stderr:\n${s.stderr()}`);
  }
  assert.equal(code, expectedCode, s.stderr());
  assert.match(s.stderr(), /dev: stopped\n/);
  assert.doesNotMatch(s.stderr(), /still open after stop/);
  // Children are reaped by their watchdogs; give them a moment.
  await until(
    () => `the processes to exit, left after stop: ${tree.filter(alive).join(", ")}`,
    () => !tree.some(alive),
    5000,
    100,
  );
  assert.equal(alive(pid), false);
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** POST over TLS without verifying the orchestrator's self-signed certificate. */
function postInsecure(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: "POST", headers, rejectUnauthorized: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `dev` to completion (a start that must fail); resolves with its exit code and stderr. */
function runDev(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, "dev", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  child.stdout!.resume();
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr: err })));
}

describe("tributary dev", { concurrency: false }, () => {
  after(() => {
    // A failed assertion must not leave a network running (and the test file hanging).
    for (const child of running) {
      for (const pid of descendants(child.pid!)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      child.kill("SIGKILL");
    }
  });

  test("a component that cannot start stops the others and exits 1 with the reason", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runDev(["--offchain", "--orchestrator-port", "0", "--gateway-port", String(port)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        // One friendly line naming the port and the flag to change (issue #17: no stack for a busy port).
        new RegExp(
          `error: the dev network failed to start: port ${port} on 127\\.0\\.0\\.1 is already in use; pick another with --gateway-port`,
        ),
      );
      // What had started was stopped, in reverse order.
      assert.match(
        r.stderr,
        /stopped capabilities[^\n]*\n.*stopped orchestrator[^\n]*\n.*stopped containers/s,
      );
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  test("--offchain: a text-reverse job through the gateway is answered, a green-tint stream starts; SIGINT leaves no process", async () => {
    const s = await startDev(["--offchain"]);
    try {
      assert.equal(s.summary.mode, "offchain");
      assert.ok(s.summary.gateway, "gateway started");
      assert.ok(s.summary.readyMs > 0);
      assert.deepEqual(
        s.summary.containers.map((c) => c.capability),
        ["byoc/text-reverse", "live-video-to-video/green-tint"],
      );
      const res = await postJson(`${s.summary.gateway.url}/text-reverse`, { text: "héllo 👋" });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { text: "👋 olléh" });
      // A live stream on green-tint (live-video-to-video/green-tint) starts through the gateway.
      const live = await postJson(`${s.summary.gateway.url}/live/video-to-video`, { model_id: "green-tint" });
      assert.equal(live.status, 200);
      const urls = (await live.json()) as { status_url: string; stop_url: string };
      const status = (await (await fetch(urls.status_url)).json()) as { state: string; model_id: string };
      assert.equal(status.model_id, "green-tint");
      assert.ok(["starting", "running"].includes(status.state), `stream state ${status.state}`);
      const stopped = await fetch(urls.stop_url, { method: "POST" });
      assert.equal(stopped.status, 200);
      await stopped.text();
      const dash = await fetch(s.summary.gateway.dashboard);
      assert.equal(dash.status, 200);
      await dash.text();
      // the printed live page is served, and offers green-tint
      assert.equal(s.summary.gateway.live, `${s.summary.gateway.url}/live`);
      const livePage = await fetch(s.summary.gateway.live);
      assert.equal(livePage.status, 200);
      await livePage.text();
      const models = (await (await fetch(`${s.summary.gateway.url}/live/page/models`)).json()) as {
        models: { model_id: string }[];
      };
      assert.ok(
        models.models.some((m) => m.model_id === "green-tint"),
        JSON.stringify(models),
      );
    } finally {
      await stopAndCheck(s);
    }
  });

  test("devnet: chain, priced orchestrator, a text-reverse job and a green-tint stream paid by the gateway; SIGINT stops anvil too", async () => {
    const s = await startDev([]);
    try {
      assert.equal(s.summary.mode, "devnet");
      assert.ok(s.summary.chain?.rpcUrl.startsWith("http://127.0.0.1:"));
      assert.equal(s.summary.childPids.length, 1, "anvil's pid is reported");
      assert.ok(alive(s.summary.childPids[0]!));
      assert.ok(s.summary.gateway);
      const res = await postJson(`${s.summary.gateway.url}/text-reverse`, { text: "abc" });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { text: "cba" });
      // Paid with tickets: the orchestrator reports the gateway's remaining credit.
      assert.match(res.headers.get("livepeer-balance") ?? "", /^\d+$/);
      // The sample payment of the summary decodes to a valid ticket from the gateway to the orchestrator.
      assert.ok(s.summary.samplePaymentHeader);
      const decoded = (await describePayment(s.summary.samplePaymentHeader)) as {
        sender: string;
        ticketParams: { recipient: string };
        tickets: { signatureValid: boolean }[];
      };
      const gatewayAccount = s.summary.accounts.find((a) => a.role.startsWith("gateway"));
      const orchAccount = s.summary.accounts.find((a) => a.role.startsWith("orchestrator"));
      assert.equal(decoded.sender, gatewayAccount?.address);
      assert.equal(decoded.ticketParams.recipient, orchAccount?.address);
      assert.deepEqual(
        decoded.tickets.map((t) => t.signatureValid),
        [true],
      );
      // The same job sent unsigned straight to the orchestrator is refused: it is on the payment path.
      const unsigned = await postInsecure(
        `${s.summary.orchestrator.url}/process/request/text-reverse`,
        JSON.stringify({ text: "abc" }),
        {
          "content-type": "application/json",
          livepeer: Buffer.from(
            JSON.stringify({
              request: "{}",
              parameters: "{}",
              capability: "text-reverse",
              timeout_seconds: 30,
            }),
          ).toString("base64"),
        },
      );
      assert.equal(unsigned.status, 400);
      // green-tint is priced too: a live stream started through the gateway is paid with tickets.
      const live = await postJson(`${s.summary.gateway.url}/live/video-to-video`, { model_id: "green-tint" });
      assert.equal(live.status, 200, await live.clone().text());
      const urls = (await live.json()) as { status_url: string; stop_url: string };
      let paid = { tickets_sent: 0, paid_wei: "0" };
      await until(
        "the stream start to send tickets",
        async () => {
          paid = (await (await fetch(urls.status_url)).json()) as typeof paid;
          return paid.tickets_sent > 0;
        },
        10_000,
        100,
      );
      assert.ok(BigInt(paid.paid_wei) > 0n, `paid ${paid.paid_wei} wei`);
      await (await fetch(urls.stop_url, { method: "POST" })).text();
    } finally {
      await stopAndCheck(s);
    }
  });

  test("when its parent process dies, dev stops everything by itself", async () => {
    // sh starts dev in the background and is then killed: dev is re-parented and must notice.
    const sh = spawn(
      "/bin/sh",
      [
        "-c",
        `"$0" "$1" dev --offchain --json --orchestrator-port 0 --gateway-port 0 & echo "pid $!"; wait`,
        process.execPath,
        MAIN,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const devPid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no summary within 60 s: ${out}`)), 60_000);
      sh.stdout!.on("data", (c: Buffer) => {
        out += c.toString("utf8");
        const m = /pid (\d+)\n[\s\S]*\{.*\}\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    sh.stderr!.resume();
    assert.ok(alive(devPid));
    sh.kill("SIGKILL");
    await until("dev to exit after its parent died", () => !alive(devPid), 15_000, 100);
  });

  test("devnet: when anvil dies, dev says so, stops everything and exits 1", async () => {
    const s = await startDev([]);
    // childPids[0] is the anvil binary itself: kill it as a crash would.
    const anvil = s.summary.childPids[0]!;
    const tree = descendants(s.child.pid!);
    assert.ok(tree.includes(anvil), "anvil runs in dev's process tree");
    process.kill(anvil, "SIGKILL");
    await stopAndCheck(s, 1, null);
    await until(
      () => `the processes to exit, left after anvil died: ${tree.filter(alive).join(", ")}`,
      () => !tree.some(alive),
      5000,
      100,
    );
    assert.match(s.stderr(), /anvil \(pid \d+\) exited/);
  });
});
