/**
 * The gateway's on-chain assembly: its key, a ticket {@link Sender} on chain facts read with viem
 * (rounds, block hashes, its own deposit and reserve), and the on-chain discovery source (the
 * BondingManager's transcoder pool, service URIs from the (AI) ServiceRegistry).
 *
 * The chain facts come from the orchestrator's `startChainFacts` (which belongs in src/chain, see its
 * doc); with the gateway's own address as `recipient` they only feed the Sender (the recipient-only
 * facts are unused).
 */
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ContractAddresses } from "../chain/addresses.ts";
import { type ChainFacts, startChainFacts } from "../chain/index.ts";
import { connectNetwork } from "../chain/network.ts";
import { lockDataDir } from "../node/data-dir.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
import { Sender } from "../payments/sender.ts";
import type { MessageSigner } from "../payments/signature.ts";
import type { ChainSourceOptions } from "./discovery/index.ts";

/** Options of {@link startGatewayOnchain}. */
export interface GatewayOnchainOptions {
  network: "devnet" | "arbitrum-one";
  ethUrl: string;
  /** File holding the gateway's hex private key. */
  keyFile?: string;
  /** The key itself (tests). */
  privateKey?: Hex;
  /** Contract addresses; default: the network's known ones. */
  contracts?: ContractAddresses;
  /** Max EV of one ticket in wei (`-maxTicketEV`); default the Sender's (3e12). */
  maxTicketEV?: bigint;
  /** Max EV of one batch in wei (`-maxTotalEV`); default the Sender's (2e13). */
  maxTotalEV?: bigint;
  /** Most tickets in one payment; default the Sender's (600). */
  maxTicketsPerPayment?: number;
  /** Chain facts refresh period, ms; default 2000. */
  pollIntervalMs?: number;
  /**
   * The node's data directory: created 0700 and locked for this process until `close()` (a second
   * gateway on it is refused with `DATA_DIR_LOCKED` naming the holder's pid). Default: none.
   */
  dataDir?: string;
  logger?: Logger;
}

/** The running on-chain part of a gateway. */
export interface GatewayOnchain extends AsyncDisposable {
  address: Address;
  /** For `startGateway({ payments })`. */
  payments: { signer: MessageSigner; sender: Sender };
  /** For `startGateway({ discovery: { chain } })` when no --orch-addr/--orch-webhook-url is given. */
  chainSource: ChainSourceOptions;
  facts: ChainFacts;
  close(): Promise<void>;
}

/**
 * Connects, reads the chain facts once and builds the Sender. Rejects with an actionable error. With
 * `dataDir`, the directory is locked first (`DATA_DIR_LOCKED` when another process holds it).
 */
export async function startGatewayOnchain(options: GatewayOnchainOptions): Promise<GatewayOnchain> {
  if (options.dataDir === undefined) return startUnlocked(options);
  const lock = lockDataDir(options.dataDir);
  let onchain: GatewayOnchain;
  try {
    onchain = await startUnlocked(options);
  } catch (err) {
    lock.release();
    throw err;
  }
  const close = async (): Promise<void> => {
    await onchain.close();
    lock.release();
  };
  return { ...onchain, close, [Symbol.asyncDispose]: close };
}

async function startUnlocked(options: GatewayOnchainOptions): Promise<GatewayOnchain> {
  const log = options.logger ?? silentLogger();
  const { clients, privateKey, contracts } = await connectNetwork({ ...options, role: "gateway" });
  const account = privateKeyToAccount(privateKey);
  const facts = await startChainFacts({
    clients,
    contracts,
    recipient: account.address,
    pollIntervalMs: options.pollIntervalMs,
    rpcUrl: options.ethUrl,
    // Stale facts are logged but do not stop payments: each orchestrator checks the tickets against
    // its own chain view, and refuses them when that is stale.
    refuseWhenStale: false,
    logger: log,
  });
  const sender = new Sender({
    signer: account,
    time: facts,
    senders: facts,
    ...(options.maxTicketEV === undefined ? {} : { maxTicketEV: Rat.of(options.maxTicketEV) }),
    ...(options.maxTotalEV === undefined ? {} : { maxTotalEV: Rat.of(options.maxTotalEV) }),
    maxTicketsPerPayment: options.maxTicketsPerPayment,
  });
  const info = await facts.senderInfo(account.address);
  if (info.deposit === 0n || info.reserve.fundsRemaining === 0n)
    log.warn(
      {
        sender: account.address,
        deposit: String(info.deposit),
        reserve: String(info.reserve.fundsRemaining),
      },
      "the gateway has no deposit or no reserve in the TicketBroker: priced orchestrators will refuse its tickets; fund it with `tributary deposit`",
    );
  const close = () => facts.close();
  return {
    address: account.address,
    payments: { signer: account, sender },
    chainSource: {
      publicClient: clients.publicClient,
      bondingManager: contracts.bondingManager,
      aiServiceRegistry: contracts.aiServiceRegistry,
      serviceRegistry: contracts.serviceRegistry,
      roundsManager: contracts.roundsManager,
    },
    facts,
    close,
    [Symbol.asyncDispose]: close,
  };
}
