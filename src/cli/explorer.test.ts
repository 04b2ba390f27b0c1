import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startFakeOrchestrator } from "../gateway/discovery/testing.ts";
import type { ExplorerView } from "../gateway/explorer/aggregate.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, "explorer", ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, err: r.stderr };
}

test("tributary explorer refuses incomplete or bad input with exit 2 and a line saying what to give", () => {
  let r = run([]);
  assert.equal(r.code, 2);
  assert.match(r.err, /give --orch-addr host:port\[,…\], or --network devnet\|arbitrum-one with --eth-url/);
  r = run(["--network", "devnet"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--network devnet needs --eth-url/);
  r = run(["--orch-addr", "http://["]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--orch-addr: "http:\/\/\[" is not a host:port or https URL/);
  r = run(["--network", "mainnet"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /Allowed choices are offchain, devnet, arbitrum-one/);
});

test("tributary explorer -orchAddr (go-livepeer spelling) probes the list and serves the views; SIGTERM stops it", async () => {
  await using orch = await startFakeOrchestrator((_r, { url }) => ({ transcoder: url }));
  const child = spawn(
    process.execPath,
    [MAIN, "explorer", "-orchAddr", orch.url, "--http-addr", "127.0.0.1:0", "--log-level", "silent"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    let view: ExplorerView | undefined;
    for (let i = 0; i < 50 && view?.orchestrators[0]?.state !== "ok"; i++) {
      view = (await (await fetch(`${url}/dashboard/api/explorer`)).json()) as ExplorerView;
      if (view.orchestrators[0]?.state !== "ok") await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(
      view?.orchestrators.map((o) => [o.url, o.state]),
      [[orch.url, "ok"]],
    );
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
