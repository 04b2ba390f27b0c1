/**
 * The remote signer's payments per second with 64 concurrent clients, against the same payments
 * made in-process (what a gateway holding the key does: a Sender batch, the payment header, the
 * signed segment credentials), in the same run.
 *
 * Both sides make one-ticket `live` payments on a chain that stands still. The signer side is the
 * real router over HTTP/1.1 keep-alive on 127.0.0.1, its store a SQLite file in a temporary data
 * directory (WAL, synchronous=FULL: a payment leaves only once its nonce range is committed; one commit per event-loop turn). Each client
 * rotates to fresh ticket params every 500 tickets (an orchestrator takes 600 per params).
 *
 *   node bench/signer/run.ts [--quick]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { closeServer, listen } from "../../src/node/http/listen.ts";
import { silentLogger } from "../../src/node/logger.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import {
  AuthTokenSchema,
  OrchestratorInfoSchema,
  PriceInfoSchema,
} from "../../src/protocol/gen/lp_rpc_pb.ts";
import { encodePaymentHeader, ticketParamsToWire } from "../../src/protocol/payment-header.ts";
import type { TicketParams } from "../../src/protocol/payment-types.ts";
import {
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  segCredsSigningBytes,
} from "../../src/protocol/segment-header.ts";
import { SignerAuth } from "../../src/signer/auth.ts";
import type { SignerContext } from "../../src/signer/context.ts";
import { SignerMetrics } from "../../src/signer/metrics.ts";
import { createSignerRouter } from "../../src/signer/signer.ts";
import { openSignerStore } from "../../src/signer/store.ts";
import { type BenchOptions, type BenchResult, logToStderr, markdownTable } from "../lib.ts";

const CLIENTS = 64;
const ORCH = `0x${"22".repeat(20)}` as const;
const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
const chain = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}` as Hex,
};
const senders = {
  senderInfo: async () => ({
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  }),
};

function params(client: number, round: number): TicketParams {
  return {
    recipient: ORCH,
    faceValue: 2n * 10n ** 12n,
    winProb: 2n ** 255n,
    recipientRandHash: keccak256(toHex(`${client}/${round}`)),
    seed: 1n,
    expirationBlock: 10n ** 9n,
    expirationParams: { creationRound: 10n, creationRoundBlockHash: `0x${"41".repeat(32)}` as Hex },
  };
}

/** Base64 OrchestratorInfo at 1 wei per second (a `live` payment of 10 s is one ticket). */
function info(p: TicketParams): string {
  const msg = create(OrchestratorInfoSchema, {
    transcoder: "https://orch.example:8935",
    address: Buffer.from(ORCH.slice(2), "hex"),
    priceInfo: create(PriceInfoSchema, { pricePerUnit: 1n, pixelsPerUnit: 1n }),
    ticketParams: ticketParamsToWire(p),
    authToken: create(AuthTokenSchema, { token: new Uint8Array(32), sessionId: "s", expiration: 9n }),
  });
  return Buffer.from(toBinary(OrchestratorInfoSchema, msg)).toString("base64");
}

/** Runs `CLIENTS` loops of `one(client, i)` for `seconds`; payments per second. */
async function drive(seconds: number, one: (client: number, i: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; performance.now() < until; i++) {
        await one(c, i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/** See the module documentation. */
export async function signerBench(opts: BenchOptions & { seconds?: number }): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const seconds = opts.seconds ?? (opts.quick ? 3 : 8);
  const dir = mkdtempSync(join(tmpdir(), "bench-signer-"));
  const store = openSignerStore({ dataDir: dir });
  const ctx: SignerContext = {
    signer: account,
    sender: new Sender({ signer: account, time: chain, senders }),
    store,
    auth: new SignerAuth(),
    limits: {},
    metrics: new SignerMetrics(),
    logger: silentLogger(),
    infoSig: async () => "0x01",
    lastSeenL1Block: () => 1000n,
    now: Date.now,
    newId: (() => {
      let i = 0;
      return () => `s${++i}`;
    })(),
  };
  const server = createServer(createSignerRouter(ctx).handle);
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    const port = await listen(server, "127.0.0.1", 0);
    const infos = new Map<string, string>();
    const infoOf = (c: number, i: number): string => {
      const key = `${c}/${Math.floor(i / 500)}`;
      let v = infos.get(key);
      if (v === undefined) {
        v = info(params(c, Math.floor(i / 500)));
        infos.set(key, v);
      }
      return v;
    };
    log(`signer: ${CLIENTS} clients over HTTP for ${seconds} s…`);
    const viaSigner = await drive(seconds, (c, i) => {
      const body = JSON.stringify({ orchestrator: infoOf(c, i), type: "live" });
      return new Promise<void>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/generate-live-payment",
            method: "POST",
            agent,
            headers: { "content-type": "application/json" },
          },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    });
    log(`signer: the same payments in-process for ${seconds} s…`);
    const sender = new Sender({ signer: account, time: chain, senders });
    const expected = { pricePerUnit: 1n, pixelsPerUnit: 1n, capability: 0, constraint: "" };
    const nonces = new Map<string, number>();
    const inProcess = await drive(seconds, async (c, i) => {
      const p = params(c + 1000, Math.floor(i / 500));
      const id = sender.startSession(p, nonces.get(p.recipientRandHash) ?? 0);
      nonces.set(p.recipientRandHash, (nonces.get(p.recipientRandHash) ?? 0) + 1);
      const paying = sender.createPayment(id, 1, expected);
      sender.cleanupSession(id);
      encodePaymentHeader(await paying);
      const sig = await signPayload(account, segCredsSigningBytes(`m${c}`, 0n, EMPTY_SEGMENT_HASH));
      encodeSegmentHeader({ manifestId: `m${c}`, seq: 0n, hash: EMPTY_SEGMENT_HASH, sig, durationMs: 0 });
    });
    const ratio = viaSigner / inProcess;
    const row = {
      component: "signer",
      measure: `payments/s, ${CLIENTS} concurrent clients (1 ticket each), higher is better`,
      ours: viaSigner.toFixed(0),
      baseline: `in-process gateway ${inProcess.toFixed(0)}`,
      ratio: `${ratio.toFixed(2)}×`,
      goal: "",
      met: "",
    };
    return {
      rows: [row],
      detail: markdownTable([
        {
          path: "tributary signer over HTTP (SQLite group commit)",
          "payments/s": viaSigner.toFixed(0),
        },
        { path: "in-process Sender + headers (a gateway with the key)", "payments/s": inProcess.toFixed(0) },
      ]),
    };
  } finally {
    agent.destroy();
    await closeServer(server);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const r = await signerBench({ quick: values.quick === true });
  process.stdout.write(`${r.detail}\n`);
}
