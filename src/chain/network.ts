/**
 * Connecting a node to its network: the key (given, or read from --key-file), the contract addresses
 * (given, or the devnet's defaults, or Arbitrum One's) and the viem clients. Shared by the
 * orchestrator and the gateway.
 */
import type { Hex } from "viem";
import { TributaryError } from "../node/errors.ts";
import { ARBITRUM_ONE_ADDRESSES, type ContractAddresses } from "./addresses.ts";
import { connectChain, readPrivateKeyFile, type SigningChainClients } from "./clients.ts";
import { DEVNET_DEFAULT_ADDRESSES } from "./devnet.ts";

/** Options of {@link connectNetwork}. */
export interface ConnectNetworkOptions {
  network: "devnet" | "arbitrum-one";
  /** JSON-RPC URL. */
  ethUrl: string;
  /** The node's key; else read from `keyFile`. */
  privateKey?: Hex;
  /** File holding the node's hex private key. */
  keyFile?: string;
  /** Contract addresses; default: the devnet's or Arbitrum One's, by `network`. */
  contracts?: ContractAddresses;
  /** Who is connecting, for error messages ("gateway", "orchestrator"). */
  role: string;
}

/** A connected node: its clients (with its account), its key and the contracts it uses. */
export interface NetworkConnection {
  clients: SigningChainClients;
  privateKey: Hex;
  contracts: ContractAddresses;
}

/** Reads the key, picks the contracts and connects. Rejects with an actionable error (`KEY_REQUIRED`, …). */
export async function connectNetwork(options: ConnectNetworkOptions): Promise<NetworkConnection> {
  let privateKey = options.privateKey;
  if (privateKey === undefined) {
    if (options.keyFile === undefined)
      throw new TributaryError(
        "KEY_REQUIRED",
        `--network ${options.network} needs --key-file with the ${options.role}'s key`,
        { status: 400 },
      );
    privateKey = await readPrivateKeyFile(options.keyFile);
  }
  const contracts =
    options.contracts ?? (options.network === "devnet" ? DEVNET_DEFAULT_ADDRESSES : ARBITRUM_ONE_ADDRESSES);
  const clients = await connectChain({ rpcUrl: options.ethUrl, privateKey });
  return { clients, privateKey, contracts };
}
