/**
 * What every signer route works over, built once by `startSigner` (tests build it by hand with
 * fakes): the key, the ticket Sender (none offchain), the durable store, auth, limits, discovery and
 * metrics.
 */
import type { Hex } from "viem";
import type { Logger } from "../node/logger.ts";
import type { Rat } from "../payments/rational.ts";
import type { Sender } from "../payments/sender.ts";
import type { MessageSigner } from "../payments/signature.ts";
import type { SignerAuth } from "./auth.ts";
import type { SignerMetrics } from "./metrics.ts";
import type { SignerStore, SpendLimits } from "./store.ts";

/** One orchestrator as `/discover-orchestrators` lists it. */
export interface DiscoveredOrchestrator {
  /** The URL discovery asked (what clients connect to). */
  address: string;
  /**
   * `pipeline/model` of every AI model and the name of every BYOC capability it offers, and the
   * `app` of every live runner listed.
   */
  capabilities: string[];
  /** Its priced live runners (runners.ts), as its `GET /discovery` listed them; absent when none. */
  runners?: DiscoveredRunner[];
}

/** One live runner record of `/discover-orchestrators` (go-livepeer's discovery record). */
export interface DiscoveredRunner {
  url: string;
  gpu?: { id?: string; name?: string; vram_mb?: number };
  app: string;
  version?: string;
  metadata?: string;
  mode?: "persistent" | "single-shot";
  capacity: number;
  capacity_used: number;
  capacity_available: number;
  price_info: { price: number | string; currency: "wei"; unit: string };
}

/** See the module documentation. */
export interface SignerContext {
  signer: MessageSigner;
  /** Makes the tickets; undefined offchain (payments then answer 503). */
  sender: Sender | undefined;
  store: SignerStore;
  auth: SignerAuth;
  limits: SpendLimits;
  /** The operator's price ceiling (wei per unit), if any. */
  maxPricePerUnit?: Rat;
  /** `--remote-discovery`: the orchestrators found; undefined when off. */
  discovery?: { list(): Promise<DiscoveredOrchestrator[]> };
  metrics: SignerMetrics;
  logger: Logger;
  /** The signature of this signer's address, for `OrchestratorRequest.sig` (made once). */
  infoSig(): Promise<Hex>;
  /** The latest L1 block the chain facts saw (ticket params expiring before it are refreshed). */
  lastSeenL1Block(): bigint;
  now(): number;
  /** A fresh random id (sessions, manifest ids). */
  newId(): string;
}
