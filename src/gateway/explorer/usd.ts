/**
 * The USD/ETH figure the explorer's prices in dollars use: {@link UsdPerEthCache} reads an
 * {@link EthUsdSource} (the chain's ETH/USD price feed, src/chain/price-feed.ts) in the background and
 * keeps the last good reading for the synchronous {@link aggregate}. When the feed is stale or cannot
 * be read, no dollar figure is shown (never an old one): `read()` is undefined and `problem` says why.
 */
import type { EthUsdSource } from "../../chain/price-feed.ts";
import { errorInWords } from "../dashboard/state.ts";

/** Default period between two readings of the feed, ms. */
export const USD_REFRESH_MS = 60_000;

/** Options of {@link UsdPerEthCache}. */
export interface UsdPerEthCacheOptions {
  refreshMs?: number;
  /** A reading failed (stale, unreadable): the dollar figures are hidden until the next good one. */
  onError?: (err: unknown) => void;
}

/** See the module documentation. Reads once at construction, then every `refreshMs`. */
export class UsdPerEthCache implements Disposable {
  readonly #source: EthUsdSource;
  readonly #onError: (err: unknown) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #value: number | undefined;
  #problem: string | undefined = "not read yet";
  #inflight: Promise<void> | undefined;

  constructor(source: EthUsdSource, options: UsdPerEthCacheOptions = {}) {
    this.#source = source;
    this.#onError = options.onError ?? (() => {});
    this.#timer = setInterval(() => void this.refresh(), options.refreshMs ?? USD_REFRESH_MS);
    this.#timer.unref();
    void this.refresh();
  }

  /** USD per ETH from the last reading, or undefined when it failed (or none finished yet). */
  read(): number | undefined {
    return this.#value;
  }

  /** Why {@link read} is undefined, in words. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** Reads the feed now (a reading in flight is shared). */
  refresh(): Promise<void> {
    this.#inflight ??= this.#source
      .ethUsd()
      .then(
        (p) => {
          this.#value = Number(p.usdPerEth.toFixed(6));
          this.#problem = undefined;
        },
        (err: unknown) => {
          this.#value = undefined;
          this.#problem = errorInWords(err instanceof Error ? err.message : String(err));
          this.#onError(err);
        },
      )
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
