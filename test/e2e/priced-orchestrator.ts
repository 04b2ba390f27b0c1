/**
 * The node the orchestrator payment suites (orchestrator-payments.test.ts,
 * orchestrator-payments-ai.test.ts) run against: a priced orchestrator (payment gate over the
 * payments module's Recipient, chain facts faked in process — no devnet) in front of real SDK
 * containers, and a real ticket Sender for the gateway {@link gw}.
 *
 * Containers: BYOC `shout` (upper-cases text, 10 wei/s), `paid-stream` (a BYOC stream) and `ticker`
 * (an SSE job held open after its first item); native AI `paid-llm` (5 wei per token), `paid-up`
 * (1 wei per pixel), `paid-asr` (1 wei per ms) and `paid-live` (live video, 100 wei/s); and a
 * `default-priced` text-to-speech entry without a price.
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
import { Sender } from "../../src/payments/sender.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call, inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

export const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
export const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
export const TICKET_EV = 1000n;
export const PRICE = 10n; // wei per second

/** A running priced orchestrator and its containers; {@link close} stops them all. */
export interface PricedNode {
  orch: RunningOrchestrator;
  gate: PaymentGate;
  /** Winning tickets the gate queued, in order. */
  winners: SignedTicket[];
  /** The gateway's ticket sender. */
  sender: Sender;
  /** The `paid-stream` BYOC stream container. */
  streamer: RunningRunner;
  /** The `ticker` SSE container. */
  sse: RunningRunner;
  /** The `paid-live` live video container. */
  live: RunningRunner;
  close(): Promise<void>;
}

/**
 * Starts the containers and the orchestrator, registers the BYOC capabilities and waits until all
 * seven containers are advertised. `isActive` is the gate's view of the active set (default: always).
 */
export async function startPricedNode(isActive: () => boolean = () => true): Promise<PricedNode> {
  const dir = mkdtempSync(join(tmpdir(), "orch-pay-"));
  const runners: RunningRunner[] = [];
  let orch: RunningOrchestrator | undefined;
  let releaseSse: () => void = () => {};
  const close = async () => {
    await orch?.close();
    releaseSse();
    await Promise.all(runners.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  const runner = async (r: Promise<RunningRunner>) => {
    runners.push(await r);
    return runners.at(-1)!;
  };
  try {
    const worker = await runner(
      startRunner(
        defineBatchPipeline({
          name: "shout",
          run: (i: { text: string }) => ({ text: i.text.toUpperCase() }),
        }),
        { port: 0 },
      ),
    );
    const streamer = await runner(
      startRunner(defineLivePipeline({ name: "paid-stream", start: () => {} }), { port: 0 }),
    );
    const llm = await runner(
      startRunner(
        defineBatchPipeline({
          name: "llm",
          run: (i: { prompt: string; max_tokens: number }) => ({
            text: `${i.prompt}!`,
            tokens: i.max_tokens,
          }),
        }),
        { port: 0 },
      ),
    );
    const upscale = await runner(
      startRunner(
        defineBatchPipeline({
          name: "upscale",
          run: (i: { image: { data: Uint8Array } }) => ({ bytes: i.image.data.length }),
        }),
        { port: 0 },
      ),
    );
    const asr = await runner(
      startRunner(
        defineBatchPipeline({
          name: "audio-to-text",
          run: (i: { audio: { data: Uint8Array } }) => ({ text: "", bytes: i.audio.data.length }),
        }),
        { port: 0 },
      ),
    );
    const live = await runner(
      startRunner(defineLivePipeline({ name: "paid-live", start: () => {} }), { port: 0 }),
    );
    const sse = await runner(
      startRunner(
        defineBatchPipeline({
          name: "ticker",
          run: async function* () {
            yield { n: 1 };
            // Holds the stream open until the test ends it.
            await new Promise<void>((r) => {
              releaseSse = r;
            });
            yield { n: 2 };
          },
        }),
        { port: 0 },
      ),
    );
    // Face value just above EV: a ticket wins with probability 1000/1001; with the deterministic
    // seeds below (and deterministic RFC 6979 signatures) the outcome is the same on every run.
    let seedCounter = 0;
    const recipient = inMemoryRecipient(ORCH, TICKET_EV, (n) => new Uint8Array(n).fill(++seedCounter));
    const winners: SignedTicket[] = [];
    const gate = new PaymentGate({
      recipient,
      balances: new Balances(),
      enqueueWinner: (t) => winners.push(t),
      isActive,
    });
    const started = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      streamDebitIntervalMs: 1000,
      sseDebitIntervalMs: 1000,
      livePaymentIntervalMs: 1000,
      defaultPricePerUnit: Rat.of(7n),
      models: parseAiModels(
        JSON.stringify([
          { pipeline: "llm", model_id: "paid-llm", url: llm.url, price_per_unit: 5 },
          { pipeline: "upscale", model_id: "paid-up", url: upscale.url, price_per_unit: 1 },
          { pipeline: "audio-to-text", model_id: "paid-asr", url: asr.url, price_per_unit: 1 },
          { pipeline: "text-to-speech", model_id: "default-priced", url: llm.url },
          {
            pipeline: "live-video-to-video",
            model_id: "paid-live",
            url: live.url,
            price_per_unit: 100,
            price_unit: "second",
          },
        ]),
      ),
    });
    orch = started;
    for (const [name, url] of [
      ["shout", worker.url],
      ["paid-stream", streamer.url],
      ["ticker", sse.url],
    ] as const) {
      const r = await call(started, "/capability/register", {
        method: "POST",
        headers: { authorization: "s" },
        body: JSON.stringify({ name, url, capacity: 1, price_per_unit: Number(PRICE), price_scaling: 1 }),
      });
      assert.equal(r.status, 200);
    }
    await until("the containers to be healthy", () => started.registry.advertised().length === 7);
    const sender = new Sender({ signer: gw, time, senders });
    return { orch: started, gate, winners, sender, streamer, sse, live, close };
  } catch (err) {
    await close();
    throw err;
  }
}
