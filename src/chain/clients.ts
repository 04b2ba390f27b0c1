/**
 * viem client factories for a given RPC URL and (optionally) a private key.
 */
import { readFile } from "node:fs/promises";
import {
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PrivateKeyAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { arbitrum } from "viem/chains";
import { BadRequestError, TributaryError } from "../node/errors.ts";
import { ARBITRUM_ONE_CHAIN_ID } from "./addresses.ts";

/** Chain id anvil uses by default (the devnet). */
export const DEVNET_CHAIN_ID = 31337;

/** A viem chain description for `chainId`, with `rpcUrl` as its default RPC. */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  if (chainId === ARBITRUM_ONE_CHAIN_ID) {
    return { ...arbitrum, rpcUrls: { default: { http: [rpcUrl] } } };
  }
  return defineChain({
    id: chainId,
    name: chainId === DEVNET_CHAIN_ID ? "Tributary devnet" : `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Options of {@link createChainClients}. */
export interface ChainClientOptions {
  /** JSON-RPC URL (http or https). */
  rpcUrl: string;
  /** Chain id; {@link connectChain} reads it from the RPC when unknown. */
  chainId: number;
  /** 32-byte hex private key; without it only a public client is made. */
  privateKey?: Hex;
  /** Transport retries on network errors (viem default 3). Set 0 where the caller retries itself. */
  retryCount?: number;
  /** Per-request timeout in ms (viem default 10 s). */
  timeoutMs?: number;
  /** Block polling interval in ms for receipts and watchers (default 250 on the devnet, 1000 otherwise). */
  pollingIntervalMs?: number;
}

/** A public client, and a wallet client when a key was given. */
export interface ChainClients {
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, PrivateKeyAccount> | undefined;
  account: PrivateKeyAccount | undefined;
}

/** A wallet-capable {@link ChainClients}. */
export interface SigningChainClients extends ChainClients {
  walletClient: WalletClient<Transport, Chain, PrivateKeyAccount>;
  account: PrivateKeyAccount;
}

/** Creates the clients synchronously for a known chain id. */
export function createChainClients(options: ChainClientOptions & { privateKey: Hex }): SigningChainClients;
export function createChainClients(options: ChainClientOptions): ChainClients;
export function createChainClients(options: ChainClientOptions): ChainClients {
  const chain = chainFor(options.chainId, options.rpcUrl);
  const transport = http(options.rpcUrl, { retryCount: options.retryCount, timeout: options.timeoutMs });
  const pollingInterval = options.pollingIntervalMs ?? (options.chainId === DEVNET_CHAIN_ID ? 250 : 1000);
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  if (options.privateKey === undefined)
    return { chain, publicClient, walletClient: undefined, account: undefined };
  const account = privateKeyToAccount(options.privateKey);
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval });
  return { chain, publicClient, walletClient, account };
}

/** The RPC could not be reached or answered nonsense. */
export class ChainUnavailableError extends TributaryError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("CHAIN_UNAVAILABLE", message, { ...options, status: 503 });
  }
}

/** Reads the chain id from `rpcUrl`, then creates the clients. */
export async function connectChain(
  options: Omit<ChainClientOptions, "chainId"> & { privateKey: Hex },
): Promise<SigningChainClients>;
export async function connectChain(options: Omit<ChainClientOptions, "chainId">): Promise<ChainClients>;
export async function connectChain(options: Omit<ChainClientOptions, "chainId">): Promise<ChainClients> {
  let chainId: number;
  try {
    const probe = createPublicClient({ transport: http(options.rpcUrl, { retryCount: 1, timeout: 10_000 }) });
    chainId = await probe.getChainId();
  } catch (err) {
    throw new ChainUnavailableError(
      `cannot reach the Ethereum RPC at ${options.rpcUrl}: ${(err as Error).message.split("\n")[0]}; check --eth-url`,
      { cause: err },
    );
  }
  return createChainClients({ ...options, chainId });
}

/** Parses a hex private key (with or without 0x, surrounding whitespace ignored). */
export function parsePrivateKey(text: string, source = "private key"): Hex {
  const trimmed = text.trim();
  const hex = trimmed.startsWith("0x") || trimmed.startsWith("0X") ? trimmed.slice(2) : trimmed;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new BadRequestError(
      `${source} must hold a 32-byte hex private key (64 hex digits, optional 0x); JSON keystores are not supported yet`,
      { code: "INVALID_PRIVATE_KEY" },
    );
  }
  return `0x${hex.toLowerCase()}`;
}

/** Reads a private key file (see {@link parsePrivateKey}). */
export async function readPrivateKeyFile(path: string): Promise<Hex> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new BadRequestError(`cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      code: "KEY_FILE_UNREADABLE",
      cause: err,
    });
  }
  return parsePrivateKey(text, `key file ${path}`);
}
