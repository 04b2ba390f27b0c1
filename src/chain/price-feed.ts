/**
 * ETH/USD from a Chainlink-style aggregator (`decimals`, `description`, `latestRoundData`): Chainlink's
 * ETH/USD feed on Arbitrum One ({@link ARBITRUM_ONE_ETH_USD_FEED}, go-livepeer's `-priceFeedAddr`
 * default) or the devnet's PriceFeed.sol. The orchestrator reads it to turn runner prices in USD into
 * wei when it quotes them.
 *
 * Fail closed: a reading is refused with a typed 503 when the answer is ≤ 0 or the feed is not an
 * "ETH / USD" pair (`PRICE_FEED_UNAVAILABLE`), and when its `updatedAt` is older than `maxAgeMs`
 * (`PRICE_FEED_STALE`), which is checked against the clock on every use, cached or not. A reading is
 * cached for `refreshMs`; when a refresh fails the cached reading is used while it is still within
 * `maxAgeMs`, else `PRICE_FEED_UNAVAILABLE`, and that failure is answered again without a read for
 * `min(refreshMs, 5 s)` (a dead RPC does not slow every quote down). Reads are single-flight; there is
 * no timer to stop.
 */
import type { Address } from "viem";
import { TributaryError } from "../node/errors.ts";
import { Rat } from "../payments/rational.ts";
import { ARBITRUM_ONE_ETH_USD_FEED } from "./addresses.ts";
import type { ChainClients } from "./clients.ts";
import { priceFeedAbi } from "./contracts.gen.ts";
import { DEVNET_PRICE_FEED_ADDRESS } from "./devnet.ts";

/** The ETH/USD feed a network reads by default: Chainlink's on Arbitrum One, PriceFeed.sol on the devnet. */
export function defaultPriceFeedAddress(network: "devnet" | "arbitrum-one"): Address {
  return network === "arbitrum-one" ? ARBITRUM_ONE_ETH_USD_FEED : DEVNET_PRICE_FEED_ADDRESS;
}

/** Default largest age of the feed's answer before USD prices are refused: 1 h. */
export const DEFAULT_PRICE_FEED_MAX_AGE_MS = 60 * 60 * 1000;
/** Default time a reading is reused before the feed is read again: 60 s. */
export const DEFAULT_PRICE_FEED_REFRESH_MS = 60 * 1000;
/** Wei in one ether. */
export const WEI_PER_ETH = 10n ** 18n;

/** The feed cannot be read, or its answer is unusable (503). */
export class PriceFeedUnavailableError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("PRICE_FEED_UNAVAILABLE", message, { status: 503, cause });
  }
}

/** The feed's latest answer is older than the allowed age (503). */
export class PriceFeedStaleError extends TributaryError {
  constructor(message: string) {
    super("PRICE_FEED_STALE", message, { status: 503 });
  }
}

/** One usable reading of the feed. */
export interface EthUsdPrice {
  /** USD per ETH, exact: `answer / 10^decimals`. */
  usdPerEth: Rat;
  /** When the feed's answer was updated, ms since the epoch. */
  updatedAtMs: number;
  roundId: bigint;
}

/** What converts USD into wei: the current ETH/USD, or a typed error (see the module comment). */
export interface EthUsdSource {
  ethUsd(): Promise<EthUsdPrice>;
}

/** `latestRoundData()` as read. */
export interface PriceFeedRound {
  roundId: bigint;
  answer: bigint;
  updatedAt: bigint;
}

/** Exact wei worth `usd` dollars at `usdPerEth`: `usd × 10^18 / usdPerEth`. */
export function usdToWei(usd: Rat, usdPerEth: Rat): Rat {
  if (usdPerEth.cmp(0n) <= 0) throw new RangeError("ETH/USD must be > 0");
  return usd.mul(WEI_PER_ETH).div(usdPerEth);
}

function ageLabel(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 7200 ? `${(s / 3600).toFixed(1)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s} s`;
}

/**
 * Checks a round read at `nowMs`: throws {@link PriceFeedUnavailableError} when the answer is ≤ 0 or
 * the round was never updated, {@link PriceFeedStaleError} when it is older than `maxAgeMs`.
 */
export function checkRound(
  round: PriceFeedRound,
  decimals: number,
  nowMs: number,
  maxAgeMs: number,
  where = "the ETH/USD price feed",
): EthUsdPrice {
  if (round.answer <= 0n)
    throw new PriceFeedUnavailableError(
      `${where} answers ${round.answer} (round ${round.roundId}): not a price; USD prices are refused until it answers > 0`,
    );
  if (round.updatedAt <= 0n)
    throw new PriceFeedUnavailableError(`${where} has no completed round; USD prices are refused`);
  const price = {
    usdPerEth: Rat.of(round.answer, 10n ** BigInt(decimals)),
    updatedAtMs: Number(round.updatedAt) * 1000,
    roundId: round.roundId,
  };
  return checkAge(price, nowMs, maxAgeMs, where);
}

function checkAge(price: EthUsdPrice, nowMs: number, maxAgeMs: number, where: string): EthUsdPrice {
  const age = nowMs - price.updatedAtMs;
  if (age > maxAgeMs)
    throw new PriceFeedStaleError(
      `${where} was last updated ${ageLabel(age)} ago (${new Date(price.updatedAtMs).toISOString()}), more than --price-feed-max-age ${ageLabel(maxAgeMs)}: USD prices are refused until it updates`,
    );
  return price;
}

/** Options of {@link PriceFeed}. */
export interface PriceFeedOptions {
  /** The chain client (a public client is enough). */
  clients: Pick<ChainClients, "publicClient">;
  /** The aggregator's address (`--price-feed-addr`). */
  address: Address;
  /** Largest age of the answer, ms; default {@link DEFAULT_PRICE_FEED_MAX_AGE_MS}. */
  maxAgeMs?: number;
  /** Reuse of a reading, ms; default {@link DEFAULT_PRICE_FEED_REFRESH_MS}. */
  refreshMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** The ETH/USD feed read through a chain client, cached (see the module comment). */
export class PriceFeed implements EthUsdSource {
  readonly address: Address;
  readonly maxAgeMs: number;
  readonly refreshMs: number;
  readonly #client: Pick<ChainClients, "publicClient">["publicClient"];
  readonly #now: () => number;
  #decimals: number | undefined;
  #cached: { price: EthUsdPrice; readAtMs: number } | undefined;
  #inflight: Promise<EthUsdPrice> | undefined;
  #failed: { error: Error; atMs: number } | undefined;

  constructor(options: PriceFeedOptions) {
    this.address = options.address;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_PRICE_FEED_MAX_AGE_MS;
    this.refreshMs = options.refreshMs ?? DEFAULT_PRICE_FEED_REFRESH_MS;
    if (!(this.maxAgeMs > 0) || !(this.refreshMs >= 0))
      throw new RangeError("price feed maxAgeMs must be > 0 and refreshMs >= 0");
    this.#client = options.clients.publicClient;
    this.#now = options.now ?? Date.now;
  }

  get #where(): string {
    return `the ETH/USD price feed at ${this.address}`;
  }

  /** ETH/USD now: the cached reading while younger than `refreshMs`, else a fresh one. */
  async ethUsd(): Promise<EthUsdPrice> {
    const now = this.#now();
    const cached = this.#cached;
    if (cached !== undefined && now - cached.readAtMs < this.refreshMs)
      return checkAge(cached.price, now, this.maxAgeMs, this.#where);
    const failed = this.#failed;
    if (failed !== undefined && now - failed.atMs < Math.min(this.refreshMs, 5000)) throw failed.error;
    this.#inflight ??= this.#read().then(
      (price) => {
        this.#inflight = undefined;
        this.#failed = undefined;
        return price;
      },
      (error: Error) => {
        this.#inflight = undefined;
        this.#failed = { error, atMs: this.#now() };
        throw error;
      },
    );
    return this.#inflight;
  }

  async #read(): Promise<EthUsdPrice> {
    let round: PriceFeedRound;
    let decimals: number;
    try {
      decimals = this.#decimals ?? (await this.#describe());
      const [roundId, answer, , updatedAt] = await this.#client.readContract({
        address: this.address,
        abi: priceFeedAbi,
        functionName: "latestRoundData",
      });
      round = { roundId, answer, updatedAt };
    } catch (err) {
      if (err instanceof TributaryError) throw err;
      const cached = this.#cached;
      if (cached !== undefined) return checkAge(cached.price, this.#now(), this.maxAgeMs, this.#where);
      throw new PriceFeedUnavailableError(
        `cannot read ${this.#where}: ${(err as Error).message.split("\n")[0]}; check --price-feed-addr and --eth-url`,
        err,
      );
    }
    const price = checkRound(round, decimals, this.#now(), this.maxAgeMs, this.#where);
    this.#cached = { price, readAtMs: this.#now() };
    return price;
  }

  /** Reads `decimals` and checks `description` names the ETH / USD pair (once). */
  async #describe(): Promise<number> {
    const [decimals, description] = await Promise.all([
      this.#client.readContract({ address: this.address, abi: priceFeedAbi, functionName: "decimals" }),
      this.#client.readContract({ address: this.address, abi: priceFeedAbi, functionName: "description" }),
    ]);
    if (!/^\s*ETH\s*\/\s*USD\s*$/i.test(description))
      throw new PriceFeedUnavailableError(
        `${this.#where} describes itself as ${JSON.stringify(description)}, not "ETH / USD": give the ETH/USD feed with --price-feed-addr`,
      );
    if (decimals > 36)
      throw new PriceFeedUnavailableError(`${this.#where} has ${decimals} decimals: not a price feed`);
    this.#decimals = decimals;
    return decimals;
  }
}
