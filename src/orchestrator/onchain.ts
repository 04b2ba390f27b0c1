/**
 * Assembles the orchestrator's on-chain payment path for `--network devnet|arbitrum-one`: chain
 * clients from an RPC URL and a key file, polled chain facts, a Recipient whose nonces and balances
 * live in the data directory's store, and a started Redeemer that winners are queued to.
 *
 * The recipient secret (the HMAC key of recipientRand) is kept in the data directory, so ticket
 * params quoted before a restart are still honoured after it. Payments are refused while the
 * orchestrator is not in the active set.
 *
 * Not done (reported): the JSON keystore (only a raw hex key file) and resolving addresses through
 * the Controller (the network's known addresses are used).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Address, Hex } from "viem";
import type { ContractAddresses } from "../chain/addresses.ts";
import { type ChainFacts, startChainFacts } from "../chain/chain-facts.ts";
import type { SigningChainClients } from "../chain/clients.ts";
import { connectNetwork } from "../chain/network.ts";
import { createRedeemerChain } from "../chain/redeemer-chain.ts";
import { ensureDataDir, lockDataDir } from "../node/data-dir.ts";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { Balances } from "../payments/balances.ts";
import { DEFAULT_TICKET_EV, REDEEM_GAS_L1, REDEEM_GAS_L2 } from "../payments/constants.ts";
import { Recipient } from "../payments/recipient.ts";
import { Redeemer } from "../payments/redeemer.ts";
import { openStore, type PaymentStore } from "../payments/store/store.ts";
import { CachedBalanceStore } from "./balance-cache.ts";
import { PaymentGate } from "./payments.ts";

/** File in the data directory holding the recipient's 32-byte HMAC secret (mode 0600). */
export const RECIPIENT_SECRET_FILE = "recipient-secret";

function loadOrCreateSecret(path: string): Uint8Array {
  if (existsSync(path)) {
    const b = readFileSync(path);
    if (b.length !== 32)
      throw new TributaryError("BAD_SECRET_FILE", `${path} must hold 32 bytes; delete it to make a new one`, {
        status: 500,
      });
    return new Uint8Array(b);
  }
  ensureDataDir(dirname(path));
  const secret = randomBytes(32);
  writeFileSync(path, secret, { mode: 0o600 });
  chmodSync(path, 0o600);
  return new Uint8Array(secret);
}

/** Options of {@link startOnchainPayments}. */
export interface OnchainPaymentsOptions {
  network: "devnet" | "arbitrum-one";
  ethUrl: string;
  /** File holding the orchestrator's hex private key. */
  keyFile?: string;
  /** The key itself (tests). */
  privateKey?: Hex;
  dataDir: string;
  /** Contract addresses; default: the network's known ones. */
  contracts?: ContractAddresses;
  /** Required EV per ticket in wei; default 8e9 (`-ticketEV`). */
  ticketEV?: bigint;
  /** Face value cap in wei (`-maxFaceValue`); default none. */
  maxFaceValue?: bigint;
  /** See `RecipientOptions.targetTicketsPerPayment` (`--target-tickets-per-payment`); default 50. */
  targetTicketsPerPayment?: number;
  /** Period of the store's purge of expired nonces and spent balances, ms; default 60 s. */
  purgeIntervalMs?: number;
  /** Idle time after which a balance with no credit left is deleted, ms; default 1 h. */
  balanceIdleMs?: number;
  /**
   * How long cached chain facts are trusted without a successful chain read before paid work is
   * refused (503 CHAIN_FACTS_STALE), ms; default 8 min (`--max-chain-staleness`).
   */
  maxChainStalenessMs?: number;
  logger?: Logger;
}

/** The running on-chain payment path. */
export interface OnchainPayments extends AsyncDisposable {
  gate: PaymentGate;
  address: Address;
  store: PaymentStore;
  facts: ChainFacts;
  redeemer: Redeemer;
  /** The chain clients (also read by the ETH/USD price feed, src/chain/price-feed.ts). */
  clients: SigningChainClients;
  close(): Promise<void>;
}

/** Connects, reads the chain facts and starts the redeemer. Rejects with an actionable error. */
export async function startOnchainPayments(options: OnchainPaymentsOptions): Promise<OnchainPayments> {
  const log = options.logger ?? silentLogger();
  const { clients, contracts } = await connectNetwork({ ...options, role: "orchestrator" });
  const address = clients.account.address;
  // One process per data directory: a second orchestrator would redeem the same queue.
  const lock = lockDataDir(options.dataDir);
  let store: PaymentStore;
  try {
    store = openStore({ dataDir: options.dataDir });
  } catch (err) {
    lock.release();
    throw err;
  }
  // Every ticket-params quote (each BYOC `/process/token`) reads a sender's unredeemed winners for
  // its max float: the sums per sender are read from the store at most once a second, and at once
  // after a new winner (a winner redeemed meanwhile still counts: the float is only lower).
  let pending: { at: number; sums: Map<string, bigint> } | undefined;
  const pendingAmount = (sender: Address): bigint => {
    const now = performance.now();
    if (pending === undefined || now - pending.at > 1000) {
      const sums = new Map<string, bigint>();
      for (const t of store.listWinningTickets({ status: ["pending", "submitted"] })) {
        const k = t.ticket.sender.toLowerCase();
        sums.set(k, (sums.get(k) ?? 0n) + t.ticket.faceValue);
      }
      pending = { at: now, sums };
    }
    return pending.sums.get(sender.toLowerCase()) ?? 0n;
  };
  let facts: ChainFacts;
  try {
    facts = await startChainFacts({
      clients,
      contracts,
      recipient: address,
      logger: log,
      pendingAmount,
      rpcUrl: options.ethUrl,
      maxStalenessMs: options.maxChainStalenessMs,
    });
  } catch (err) {
    store.close();
    lock.release();
    throw err;
  }
  const balanceCache = new CachedBalanceStore(store.balanceStore(), (err) =>
    log.warn({ err }, "writing balances to the store failed; retrying"),
  );
  const redeemer = new Redeemer({
    store,
    logger: log,
    chain: createRedeemerChain({
      clients,
      ticketBroker: contracts.ticketBroker,
      roundsManager: contracts.roundsManager,
      bondingManager: contracts.bondingManager,
    }),
  });
  redeemer.start();
  const recipient = new Recipient({
    address,
    secret: loadOrCreateSecret(join(options.dataDir, RECIPIENT_SECRET_FILE)),
    ticketEV: options.ticketEV ?? DEFAULT_TICKET_EV,
    redeemGas: options.network === "arbitrum-one" ? REDEEM_GAS_L2 : REDEEM_GAS_L1,
    ...(options.maxFaceValue ? { maxFaceValue: options.maxFaceValue } : {}),
    ...(options.targetTicketsPerPayment === undefined
      ? {}
      : { targetTicketsPerPayment: options.targetTicketsPerPayment }),
    time: facts,
    gasPrice: facts,
    senders: facts,
    nonces: store.nonceStore(),
    // A payment's nonces, credit and winners commit together (one fsync per batch with a winner;
    // store.ts); the balances in memory follow it (balance-cache.ts).
    transaction: (fn, options) => balanceCache.transaction(() => store.transaction(fn, options)),
  });
  // Expired nonces and spent, idle balances are deleted in the background.
  store.startPurging({
    latestBlock: () => facts.lastSeenL1Block(),
    ...(options.purgeIntervalMs === undefined ? {} : { intervalMs: options.purgeIntervalMs }),
    ...(options.balanceIdleMs === undefined ? {} : { balanceIdleMs: options.balanceIdleMs }),
    onPurge: (r) => {
      if (r.nonces > 0 || r.balances > 0)
        log.debug({ nonces: r.nonces, balances: r.balances }, "purged expired nonces and spent balances");
    },
    onError: (err) => log.warn({ err }, "store purge failed; retrying at the next tick"),
  });
  const gate = new PaymentGate({
    recipient,
    balances: new Balances(balanceCache),
    enqueueWinner: (t) => {
      redeemer.enqueue(t);
      pending = undefined;
    },
    isActive: () => facts.isActive(),
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await redeemer.stop();
      await facts.close();
      balanceCache.close();
      store.close();
      lock.release();
    })();
    return closing;
  };
  log.info({ address, network: options.network }, "on-chain payments ready");
  return { gate, address, store, facts, redeemer, clients, close, [Symbol.asyncDispose]: close };
}
