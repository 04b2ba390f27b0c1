/**
 * go-livepeer's gateway selection flags reach the selector through the real CLI: `tributary gateway`
 * with a go-livepeer command line (`-orchBlocklist`, `-maxPricePerCapability`, `-ignoreMaxPriceIfNeeded`,
 * and an ignored `-monitor`) in front of two fake gRPC orchestrators whose transcoder URLs are two
 * recording HTTPS servers; a text-to-image job shows which one was chosen.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../../src/gateway/capabilities.ts";
import {
  type FakeOrchestrator,
  startFakeOrchestrator,
  testCertificate,
} from "../../src/gateway/discovery/testing.ts";

const BIN = fileURLToPath(new URL("../../bin/tributary.js", import.meta.url));
const MODEL = "stabilityai/sd-turbo";
const ADDRESS_A = `0x${"0a".repeat(20)}`;

interface Recorder {
  server: Server;
  url: string;
  hits: number;
}

async function recorder(): Promise<Recorder> {
  const r: Recorder = { server: createServer(testCertificate()), url: "", hits: 0 };
  r.server.on("request", (req, res) => {
    req.resume();
    req.on("end", () => {
      r.hits++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ images: [] }));
    });
  });
  r.server.listen(0, "127.0.0.1");
  await once(r.server, "listening");
  r.url = `https://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  return r;
}

function info(transcoder: string, address: Uint8Array, price: bigint) {
  return {
    transcoder,
    address,
    priceInfo: { pricePerUnit: 0n, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      constraints: {
        PerCapability: { [CAPABILITY.TextToImage]: { models: { [MODEL]: { warm: true, capacity: 4 } } } },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: MODEL, pricePerUnit: price, pixelsPerUnit: 1n },
    ],
  };
}

describe("gateway selection flags (go-livepeer spellings) through the CLI", () => {
  let recA: Recorder;
  let recB: Recorder;
  let orchA: FakeOrchestrator;
  let orchB: FakeOrchestrator;
  const dir = mkdtempSync(join(tmpdir(), "gw-selection-flags-"));

  before(async () => {
    recA = await recorder();
    recB = await recorder();
    // A is cheap (1 wei per pixel) and has ADDRESS_A; B costs 5.
    orchA = await startFakeOrchestrator(() => info(recA.url, new Uint8Array(20).fill(0x0a), 1n));
    orchB = await startFakeOrchestrator(() => info(recB.url, new Uint8Array(20).fill(0x0b), 5n));
  });

  after(async () => {
    await orchA?.close();
    await orchB?.close();
    recA?.server.close();
    recB?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the gateway with `flags`, sends `jobs` text-to-image jobs, stops it; returns statuses and stderr. */
  async function withGateway(flags: string[], jobs: number): Promise<{ statuses: number[]; stderr: string }> {
    const args = [
      BIN,
      "gateway",
      "-gateway",
      "-orchAddr",
      `${orchA.url},${orchB.url}`,
      "-httpAddr",
      "127.0.0.1:0",
      "-datadir",
      join(dir, String(Math.random())),
      ...flags,
    ];
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (url === undefined) {
        url = /gateway listening on (http:\/\/\S+)/.exec(stdout)?.[1];
        if (child.exitCode !== null) throw new Error(`the gateway exited:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`the gateway did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const statuses: number[] = [];
      for (let i = 0; i < jobs; i++) {
        const res = await fetch(`${url}/text-to-image`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model_id: MODEL, prompt: "a cat", width: 64, height: 64 }),
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      return { statuses, stderr };
    } finally {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
    }
  }

  test("-orchBlocklist leaves the listed address out (the cheap A is never used)", async () => {
    recA.hits = 0;
    recB.hits = 0;
    const r = await withGateway(["-orchBlocklist", ADDRESS_A, "-monitor"], 4);
    assert.deepEqual(r.statuses, [200, 200, 200, 200], r.stderr);
    assert.equal(recA.hits, 0);
    assert.equal(recB.hits, 4);
    // -monitor means nothing here: warned about, not refused.
    assert.match(r.stderr, /warning: -monitor is a go-livepeer flag with no meaning here/);
  });

  test("-maxPricePerCapability keeps only the orchestrators at or under the pipeline's limit", async () => {
    recA.hits = 0;
    recB.hits = 0;
    const limit = JSON.stringify({
      capabilities_prices: [{ pipeline: "text-to-image", model_id: "default", price_per_unit: 2 }],
    });
    const r = await withGateway(["-maxPricePerCapability", limit], 4);
    assert.deepEqual(r.statuses, [200, 200, 200, 200], r.stderr);
    assert.equal(recB.hits, 0, "B (5 wei) is above the limit of 2");
    assert.equal(recA.hits, 4);
  });

  test("-ignoreMaxPriceIfNeeded uses an orchestrator above the limit when none is under it", async () => {
    recA.hits = 0;
    recB.hits = 0;
    const strict = await withGateway(
      ["-orchBlocklist", ADDRESS_A, "-maxPricePerCapability", priceLimit(3)],
      1,
    );
    assert.ok(strict.statuses[0]! >= 400, `B is above 3 and A is blocked: refused (${strict.statuses[0]})`);
    assert.equal(recB.hits, 0);
    const lenient = await withGateway(
      ["-orchBlocklist", ADDRESS_A, "-maxPricePerCapability", priceLimit(3), "-ignoreMaxPriceIfNeeded"],
      1,
    );
    assert.deepEqual(lenient.statuses, [200], lenient.stderr);
    assert.equal(recB.hits, 1);
  });
});

function priceLimit(wei: number): string {
  return JSON.stringify({
    capabilities_prices: [{ pipeline: "text-to-image", model_id: MODEL, price_per_unit: wei }],
  });
}
