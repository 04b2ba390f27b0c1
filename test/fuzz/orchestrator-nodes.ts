/**
 * The nodes the orchestrator fuzz suites (orchestrator.test.ts, orchestrator-limits.test.ts) run
 * against, on 127.0.0.1 over HTTPS: SDK containers (a BYOC `echo`, a live `streamer`, one batch
 * container per native AI pipeline) behind three orchestrators: `offchain`, `priced` (a payment gate
 * over a real Recipient, chain facts in memory) and, when asked, `limited` (small HTTP limits).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import {
  encodeJobHeader,
  encodeJobSenderHeader,
  jobSigningPayloadV1,
} from "../../src/protocol/job-header.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { inMemoryRecipient } from "../e2e/orchestrator-helpers.ts";
import { until } from "../until.ts";
import { send } from "./http-util.ts";

export const WAIT_MS = 15_000;
/** The orchestrators' `orchSecret` (registration and BYOC auth). */
export const SECRET = "fuzz-secret";
/** HTTP limits of the `limited` orchestrator. */
export const LIMITED_STREAMS = 8;
export const LIMITED_HEADERS_TIMEOUT_MS = 600;
export const LIMITED_UPLOAD_MIB = 4;
const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
/** The gateway whose signed jobs and payments the suites send. */
export const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);

/** Native AI pipelines served (by SDK containers named after them). */
export const NATIVE = ["llm", "text-to-image", "image-to-image", "audio-to-text", "upscale"];

/** Running nodes; {@link close} stops them all and removes their data. */
export interface FuzzNodes {
  offchain: RunningOrchestrator;
  priced: RunningOrchestrator;
  /** Offchain, with small HTTP limits (a few streams, a short headers timeout, a small upload budget). */
  limited: RunningOrchestrator | undefined;
  /** Well-formed `Livepeer` job headers signed by {@link gw} for the registered capabilities. */
  signedJobs: string[];
  /** `Livepeer-Eth-Address` of {@link gw}. */
  senderHeader: string;
  close(): Promise<void>;
}

async function signedJobHeaders(): Promise<string[]> {
  const out: string[] = [];
  for (const [capability, request, parameters] of [
    ["echo", "{}", "{}"],
    ["echo", '{"a":1}', ""],
    ["streamer", '{"stream_id":"s1"}', '{"enable_data_output":true}'],
    ["streamer", '{"stream_id":"s2"}', "{}"],
  ] as const) {
    const job = { id: "", capability, request, parameters, timeoutSeconds: 30, sender: gw.address, sig: "" };
    const sig = await gw.signMessage({ message: { raw: jobSigningPayloadV1(job) } });
    out.push(encodeJobHeader({ ...job, sig }));
  }
  return out;
}

/**
 * Starts the containers and the orchestrators (`limited` only with `{ limited: true }`), registers
 * the BYOC capabilities on each, and waits until every container is advertised.
 */
export async function startFuzzNodes(opts: { limited?: boolean } = {}): Promise<FuzzNodes> {
  const dir = mkdtempSync(join(tmpdir(), "orch-fuzz-"));
  const runners: RunningRunner[] = [];
  const orchestrators: RunningOrchestrator[] = [];
  const close = async () => {
    await Promise.all(orchestrators.map((o) => o.close()));
    await Promise.all(runners.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  const runner = async (r: Promise<RunningRunner>) => {
    runners.push(await r);
    return runners.at(-1)!;
  };
  const orchestrator = async (o: Promise<RunningOrchestrator>) => {
    orchestrators.push(await o);
    return orchestrators.at(-1)!;
  };
  try {
    const echo = await runner(
      startRunner(defineBatchPipeline({ name: "echo", run: (input: unknown) => ({ type: typeof input }) }), {
        port: 0,
      }),
    );
    const batch: Record<string, RunningRunner> = {};
    for (const name of NATIVE) {
      batch[name] = await runner(
        startRunner(defineBatchPipeline({ name, run: (input: unknown) => ({ type: typeof input }) }), {
          port: 0,
        }),
      );
    }
    const live = await runner(
      startRunner(defineLivePipeline({ name: "streamer", start: () => {} }), { port: 0 }),
    );
    const signedJobs = await signedJobHeaders();
    const senderHeader = encodeJobSenderHeader({
      addr: gw.address,
      sig: await gw.signMessage({ message: gw.address }),
    });
    const models = (price: boolean) =>
      parseAiModels(
        JSON.stringify(
          [...NATIVE.map((n) => [n, "m1", batch[n]!.url]), ["live-video-to-video", "noop", live.url]].map(
            ([pipeline, model_id, url]) => ({
              pipeline,
              model_id,
              url,
              capacity: 2,
              ...(price ? { price_per_unit: 3 } : {}),
            }),
          ),
        ),
      );
    const offchain = await orchestrator(
      startOrchestrator({
        port: 0,
        dataDir: join(dir, "offchain"),
        orchSecret: SECRET,
        models: models(false),
        health: { intervalMs: 200, failureThreshold: 1 },
      }),
    );
    const limited = opts.limited
      ? await orchestrator(
          startOrchestrator({
            port: 0,
            dataDir: join(dir, "limited"),
            orchSecret: SECRET,
            models: models(false),
            health: { intervalMs: 200, failureThreshold: 1 },
            limits: {
              maxConcurrentStreams: LIMITED_STREAMS,
              headersTimeoutMs: LIMITED_HEADERS_TIMEOUT_MS,
              idleTimeoutMs: LIMITED_HEADERS_TIMEOUT_MS,
              maxSessionUploadBytes: LIMITED_UPLOAD_MIB * 1024 * 1024,
            },
          }),
        )
      : undefined;
    const recipient = inMemoryRecipient(ORCH, 1000n);
    const gate = new PaymentGate({
      recipient,
      balances: new Balances(),
      enqueueWinner: () => {},
      isActive: () => true,
    });
    const priced = await orchestrator(
      startOrchestrator({
        port: 0,
        dataDir: join(dir, "priced"),
        orchSecret: SECRET,
        network: "devnet",
        payments: gate,
        address: ORCH,
        defaultPricePerUnit: Rat.of(7n),
        models: models(true),
        health: { intervalMs: 200, failureThreshold: 1 },
      }),
    );
    for (const orch of orchestrators) {
      for (const [name, url] of [
        ["echo", echo.url],
        ["streamer", live.url],
      ] as const) {
        const r = await send(
          { url: orch.url, ca: orch.cert },
          {
            method: "POST",
            path: "/capability/register",
            headers: { authorization: SECRET },
            body: Buffer.from(
              JSON.stringify({ name, url, capacity: 2, price_per_unit: 1, price_scaling: 1 }),
            ),
          },
          WAIT_MS,
        );
        assert.equal(r.kind === "reply" && r.status, 200);
      }
    }
    await until(
      "the containers to become healthy",
      () => offchain.registry.advertised().length >= 8 && priced.registry.advertised().length >= 8,
      20_000,
      50,
    );
    return { offchain, priced, limited, signedJobs, senderHeader, close };
  } catch (err) {
    await close();
    throw err;
  }
}
