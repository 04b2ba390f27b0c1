/**
 * What the Recipient unit tests (recipient.test.ts, ticket-sizing.test.ts) share: a chain that
 * stands still ({@link FakeTime}), a sender monitor whose deposit, reserve and max float a test may
 * change ({@link FakeSenders}), and {@link setup}: a Recipient, a Sender signing as {@link gw} and
 * Balances over them.
 */
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Balances } from "./balances.ts";
import type { SenderMonitor, TimeSource } from "./chain-facts.ts";
import { MemoryNonceStore } from "./nonce-store.ts";
import { Rat } from "./rational.ts";
import { Recipient } from "./recipient.ts";
import { Sender } from "./sender.ts";
import type { PriceInfo, SenderInfo } from "./types.ts";

export const BLOCK_HASH: Hex = "0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d";
export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;
export const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
export const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);

export class FakeTime implements TimeSource {
  block = 1000n;
  round = 10n;
  hash: Hex = BLOCK_HASH;
  preHash: Hex = `0x${"99".repeat(32)}`;
  lastSeenL1Block() {
    return this.block;
  }
  lastInitializedRound() {
    return this.round;
  }
  lastInitializedL1BlockHash() {
    return this.hash;
  }
  preLastInitializedL1BlockHash() {
    return this.preHash;
  }
}

export class FakeSenders implements SenderMonitor {
  info: SenderInfo = {
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  };
  float = 10n ** 30n;
  senderInfo() {
    return this.info;
  }
  maxFloat() {
    return this.float;
  }
}

export const PRICE: PriceInfo = { pricePerUnit: 10n, pixelsPerUnit: 3n, capability: 0, constraint: "" };

export function setup(
  opts: { ticketEV?: bigint; gasPrice?: bigint; target?: number; maxScaledTicketEV?: bigint } = {},
) {
  const time = new FakeTime();
  const senders = new FakeSenders();
  const nonces = new MemoryNonceStore();
  let gas: bigint | undefined = opts.gasPrice ?? 1n;
  const recipient = new Recipient({
    address: ORCH,
    secret: new Uint8Array(32).fill(9),
    ticketEV: opts.ticketEV ?? 1000n,
    redeemGas: 10_000n,
    time,
    gasPrice: { gasPrice: () => gas },
    senders,
    nonces,
    ...(opts.target === undefined ? {} : { targetTicketsPerPayment: opts.target }),
    ...(opts.maxScaledTicketEV === undefined ? {} : { maxScaledTicketEV: opts.maxScaledTicketEV }),
  });
  const sender = new Sender({ signer: gw, time, senders });
  const balances = new Balances();
  return { time, senders, nonces, recipient, sender, balances, setGas: (g: bigint | undefined) => (gas = g) };
}

export async function quote(s: ReturnType<typeof setup>, price: PriceInfo = PRICE) {
  return s.recipient.ticketParams(gw.address, Rat.of(price.pricePerUnit, price.pixelsPerUnit));
}
