import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { probeVideo } from "../client/media.ts";
import { type DevNetwork, GREEN_TINT_MODEL, startDevNetwork } from "../dev/network.ts";
import { formatLiveStats, formatWei, type JobIo, jobLive, jobRun } from "./job.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

/** Captures what a command writes. */
function captureIo(tty = false): JobIo & { out: () => string; err: () => string } {
  const out: Buffer[] = [];
  let err = "";
  return {
    stdout: { isTTY: tty, write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
    stderr: { isTTY: false, write: (c: string) => (err += c) },
    out: () => Buffer.concat(out).toString("utf8"),
    err: () => err,
  };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test("formatWei picks a readable unit; the stats line shows dashes for unknown figures", () => {
  assert.equal(formatWei(0n), "0 wei");
  assert.equal(formatWei(999n), "999 wei");
  assert.equal(formatWei(1_500_000_000n), "1.500 gwei");
  assert.equal(formatWei(2n * 10n ** 16n), "0.020000 ETH");
  const line = formatLiveStats({
    elapsedSeconds: 1,
    sentSeconds: 1,
    segmentsIn: 2,
    segmentsOut: 1,
    framesOut: 24,
    fps: undefined,
    latencyMs: 1500,
    paidWei: 3_000_000_000n,
    tickets: 2,
    bytesOut: 10,
  });
  assert.equal(line, "in 2 seg  out 1 seg / 24 frames  fps –  latency 1.50 s  paid 3.000 gwei (2 tickets)");
});

describe("tributary job against an offchain dev network", () => {
  let net: DevNetwork;
  let gateway: string;
  const dir = mkdtempSync(join(tmpdir(), "job-cli-"));
  before(async () => {
    net = await startDevNetwork({ offchain: true, orchestratorPort: 0, gatewayPort: 0 });
    gateway = net.summary.gateway!.url;
  });
  after(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("job run text-reverse prints the reversed text: raw when piped, pretty on a terminal", async () => {
    const piped = captureIo(false);
    assert.equal(await jobRun("text-reverse", { gateway, json: { text: "hello" } }, piped), 0);
    assert.equal(piped.out(), '{"text":"olleh"}');
    const tty = captureIo(true);
    assert.equal(await jobRun("text-reverse", { gateway, json: { text: "ab" } }, tty), 0);
    assert.equal(tty.out(), '{\n  "text": "ba"\n}\n');
  });

  test("job run --data @file sends the file as JSON", async () => {
    const file = join(dir, "req.json");
    writeFileSync(file, JSON.stringify({ text: "file" }));
    const io = captureIo();
    assert.equal(await jobRun("text-reverse", { gateway, data: `@${file}` }, io), 0);
    assert.deepEqual(JSON.parse(io.out()), { text: "elif" });
  });

  test("job run exits 1 with the gateway's error message on a 4xx/5xx", async () => {
    const io = captureIo();
    assert.equal(await jobRun("no-such-capability", { gateway, json: {} }, io), 1);
    assert.equal(io.out(), "");
    assert.match(io.err(), /^error: job no-such-capability: 404 MODEL_NOT_OFFERED: /);
  });

  test("the real CLI: job run through main.ts, exit codes and --help", async () => {
    const ok = await cli(["job", "run", "text-reverse", "--gateway", gateway, "--json", '{"text":"cli"}']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '{"text":"ilc"}');
    const bad = await cli(["job", "run", "nope", "--gateway", gateway, "--json", "{}"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /MODEL_NOT_OFFERED/);
    const badJson = await cli(["job", "run", "text-reverse", "--json", "{nope"]);
    assert.notEqual(badJson.code, 0);
    assert.match(badJson.stderr, /not JSON/);
    const help = await cli(["job", "live", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--testsrc/);
    assert.match(help.stdout, /Examples:/);
  });

  test("job live --testsrc streams through green-tint and writes a playable, green-tinted mp4", async () => {
    const output = join(dir, "out.mp4");
    const io = captureIo();
    const code = await jobLive(
      {
        gateway,
        model: GREEN_TINT_MODEL,
        testsrc: true,
        size: { width: 128, height: 96 },
        fps: 12,
        duration: 3000,
        segment: 1,
        params: { width: 128, height: 96, green: 100 },
        output,
        statsInterval: 1,
      },
      io,
    );
    assert.equal(code, 0, io.err());
    assert.match(io.err(), /live: t=.*in \d+ seg {2}out \d+ seg/);
    assert.match(io.err(), /wrote .*out\.mp4/);
    const probe = await probeVideo(output);
    // 3 s at 12 fps: the last segment comes back too (the gateway passes on the end of input).
    assert.ok(probe.frames >= 30, `${probe.frames} of 36 frames came back`);
    assert.deepEqual([probe.width, probe.height], [128, 96]);
    const [r, g, b] = probe.meanRgb;
    assert.ok(g - r > 40 && g - b > 40, `green-tinted: mean rgb ${probe.meanRgb.join(",")}`);
  });

  test("job live with an unknown model exits 1 with the gateway's error; a missing input file exits 1 before any stream starts; without an input it is a usage error", async () => {
    const io = captureIo();
    const base = { gateway, size: { width: 64, height: 64 }, fps: 10, segment: 1, duration: 1000 };
    assert.equal(await jobLive({ ...base, model: "no-such-model", testsrc: true }, io), 1);
    assert.match(io.err(), /error: live start \(model no-such-model\)/);
    const missing = captureIo();
    assert.equal(
      await jobLive({ ...base, model: GREEN_TINT_MODEL, input: join(dir, "nope.mp4") }, missing),
      1,
    );
    assert.match(missing.err(), /cannot read --input .*nope\.mp4: ENOENT/);
    assert.doesNotMatch(missing.err(), /live: stream/, "no stream is started for a missing input");
    const usage = captureIo();
    assert.equal(await jobLive({ ...base, model: GREEN_TINT_MODEL }, usage), 2);
    assert.match(usage.err(), /exactly one of --input/);
  });
});
