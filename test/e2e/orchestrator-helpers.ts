/**
 * Helpers shared by the orchestrator and gateway e2e suites: one HTTPS request to an orchestrator
 * (trusting its self-signed certificate), and fixed in-memory chain facts for priced nodes without a
 * chain.
 */
import { request as httpsRequest } from "node:https";
import type { Address, Hex } from "viem";
import type { RunningOrchestrator } from "../../src/orchestrator/index.ts";
import type { SenderMonitor, TimeSource } from "../../src/payments/chain-facts.ts";
import { Recipient } from "../../src/payments/recipient.ts";
import type { SenderInfo } from "../../src/payments/types.ts";

/** An orchestrator's answer, read whole. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to `orch` on a fresh connection; resolves with the whole answer. */
export function call(
  orch: RunningOrchestrator,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}${path}`,
      { method: init.method ?? "GET", headers: init.headers, ca: orch.cert, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** A chain that stands still: block 1000, round 10 initialized. */
export const time: TimeSource = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}` as Hex,
  preLastInitializedL1BlockHash: () => `0x${"99".repeat(32)}` as Hex,
};

/** Every sender holds 1 ETH of deposit and 1 ETH of reserve. */
export const senders: SenderMonitor = {
  senderInfo: (): SenderInfo => ({
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  }),
  maxFloat: () => 10n ** 30n,
};

/**
 * A Recipient for `address` on the chain facts above (gas price 1, redeem gas 20, a fixed secret).
 * Its face value is EV + 1, so a ticket wins with probability EV/(EV + 1); give `random` (e.g. a
 * counter) to make the outcomes the same on every run.
 */
export function inMemoryRecipient(
  address: Address,
  ticketEV: bigint,
  random?: (n: number) => Uint8Array,
): Recipient {
  return new Recipient({
    address,
    secret: new Uint8Array(32).fill(7),
    ticketEV,
    redeemGas: 20n,
    maxFaceValue: ticketEV + 1n,
    ...(random ? { random } : {}),
    time,
    gasPrice: { gasPrice: () => 1n },
    senders,
  });
}

/** A mono 16-bit PCM WAV of `seconds` of silence (for audio-to-text pricing). */
export function silentWav(seconds: number, sampleRate = 8000): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const b = Buffer.alloc(44 + samples * 2);
  b.write("RIFF", 0, "ascii");
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write("WAVEfmt ", 8, "ascii");
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * 2, 28); // byte rate
  b.writeUInt16LE(2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write("data", 36, "ascii");
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

/** A `multipart/form-data` body of text fields and files, and its content type. */
export function multipartBody(
  fields: Record<string, string>,
  files: Record<string, { name: string; type: string; data: Buffer }>,
): { body: Buffer; contentType: string } {
  const b = "----tributary-test";
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const [k, f] of Object.entries(files))
    parts.push(
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="${k}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.data,
      Buffer.from("\r\n"),
    );
  parts.push(Buffer.from(`--${b}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${b}` };
}
