import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { postJson, startTinyRunner, type TinyRunner } from "../../test/conformance/live-runner-kit.ts";
import { type RunningOrchestrator, startOrchestrator } from "../orchestrator/index.ts";
import { jobCommand } from "./job.ts";
import { jobRunner, paymentTypeOf } from "./job-runner.ts";

/** Captured output of one command. */
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c).toString("utf8")) },
      stderr: { write: (c: string) => err.push(c) },
    },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe("tributary job runner", () => {
  const dir = mkdtempSync(join(tmpdir(), "job-runner-"));
  let orch: RunningOrchestrator;
  let runner: TinyRunner;

  before(async () => {
    runner = await startTinyRunner();
    orch = await startOrchestrator({ port: 0, dataDir: dir, orchSecret: "s", liveRunners: {} });
    for (const body of [
      { runner_url: runner.url, app: "cli/echo", runner_id: "echo", capacity: 1 },
      { runner_url: runner.url, app: "cli/once", runner_id: "once", mode: "single-shot" },
    ]) {
      const r = await postJson(`${orch.url}/runners/heartbeat`, body, { authorization: "s" });
      assert.equal(r.status, 200, r.text);
    }
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the command parses its flags", () => {
    const runnerCmd = jobCommand().commands.find((c) => c.name() === "runner");
    assert.ok(runnerCmd);
    const flags = runnerCmd.options.map((o) => o.long);
    for (const f of [
      "--orch",
      "--session",
      "--path",
      "--method",
      "--json",
      "--data",
      "--sse",
      "--ws",
      "--messages",
    ])
      assert.ok(flags.includes(f), f);
  });

  test("single-shot and persistent HTTP calls; the session is stopped after", async () => {
    const a = io();
    const code = await jobRunner("cli/once", { orch: orch.url, path: "/echo?q=1", json: { a: 1 } }, a.io);
    assert.equal(code, 0, a.err());
    const once = JSON.parse(a.out());
    assert.deepEqual([once.method, once.path, once.query, once.body], ["POST", "/echo", "?q=1", '{"a":1}']);

    const b = io();
    assert.equal(
      await jobRunner(
        "echo",
        { orch: orch.url, path: "/echo", method: "put", data: "x", verbose: true },
        b.io,
      ),
      0,
    );
    const echo = JSON.parse(b.out());
    assert.equal(echo.method, "PUT");
    assert.match(b.err(), new RegExp(`session ${echo.session_id} stopped`));
    assert.equal(orch.runners?.registry.get("echo")?.sessions.size, 0, "stopped");
  });

  test("--sse prints one data line each; --ws sends --data and prints the answer", async () => {
    const a = io();
    assert.equal(await jobRunner("cli/echo", { orch: orch.url, path: "/sse", sse: true }, a.io), 0, a.err());
    assert.equal(a.out(), '{"n":0}\n{"n":1}\n{"n":2}\n');
    const b = io();
    assert.equal(
      await jobRunner("cli/echo", { orch: orch.url, path: "/ws", ws: true, data: "hey" }, b.io),
      0,
      b.err(),
    );
    assert.match(b.out(), /^echo:hey:[^\n]+\n$/);
    assert.equal(orch.runners?.registry.get("echo")?.sessions.size, 0);
  });

  test("--session prints the URLs and keeps the session until interrupted", async () => {
    const a = io();
    const stop = new AbortController();
    const running = jobRunner(
      "echo",
      { orch: orch.url, path: "/", session: true, signal: stop.signal },
      a.io,
    );
    while (!a.out().includes("\n")) await new Promise((r) => setTimeout(r, 10));
    const s = JSON.parse(a.out());
    assert.ok(s.session_id && s.app_url && s.control_url);
    const r = await postJson(`${s.app_url}/echo`, {});
    assert.equal(r.status, 200, "the session serves other tools");
    stop.abort();
    assert.equal(await running, 0);
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 404, "stopped on interrupt");
  });

  test("--remote-signer-url: the payment type follows the price unit; signer errors exit 1", async () => {
    assert.deepEqual(
      ["seconds", "hour", "720p", "720p-pixel-seconds", "fixed", undefined].map(paymentTypeOf),
      ["live", "live", "lv2v", "lv2v", "fixed", "live"],
    );
    const a = io();
    const opts = { orch: orch.url, path: "/echo", remoteSignerUrl: "http://127.0.0.1:1" };
    assert.equal(await jobRunner("echo", opts, a.io), 1);
    assert.match(a.err(), /remote signer .*cannot reach/);
    const b = io();
    assert.equal(await jobRunner("echo", { orch: orch.url, path: "/", remoteSignerHeaders: "A:b" }, b.io), 1);
    assert.match(b.err(), /needs --remote-signer-url/);
    assert.equal(orch.runners?.registry.get("echo")?.sessions.size, 0, "nothing reserved");
  });

  test("errors: unknown app, single-shot with --ws", async () => {
    const a = io();
    assert.equal(await jobRunner("nope", { orch: orch.url, path: "/" }, a.io), 1);
    assert.match(a.err(), /no ready live runner for nope.*cli\/echo/);
    const b = io();
    assert.equal(await jobRunner("once", { orch: orch.url, path: "/", ws: true }, b.io), 1);
    assert.match(b.err(), /single-shot/);
  });
});
