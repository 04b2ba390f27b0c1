/**
 * The orchestrator's running streams, live video (LV2V) and BYOC streams, in one table with one
 * debit mechanism.
 *
 * A stream holds a container slot (its lease) and trickle channels; it ends, once, when its control
 * channel is deleted or closes (checked every `checkIntervalMs`), when its input channel got no
 * write for `idleTimeoutMs` (started and never fed, or a gateway that went away without a stop),
 * when it is stopped, when its credit runs out, or when the orchestrator closes: its channels are
 * deleted and its slot freed.
 *
 * **How each kind is charged** (only with a payment gate and a non-zero price): every period one
 * timer per paying stream charges `price × units` to (sender, manifest id), by {@link debitTick}:
 *
 * | kind | period | units per period | when the balance is short |
 * |---|---|---|---|
 * | LV2V | `livePaymentIntervalMs` (5 s, go-livepeer `-livePaymentInterval`) | by `price_unit`: pixels of 1280×720 at 30 fps × seconds, frames at 30 fps × seconds, or seconds | `end-unpaid`: a period is charged only when the balance covers it; when it does not, the stream ends (its channels close, which ends the container's stream) |
 * | BYOC stream | `streamDebitIntervalMs` (23 s, go-livepeer `monitorOrchStream`) | seconds | `grace-once`: the period is charged anyway; one negative balance is tolerated (a payment may be in flight), the second in a row tells the container to stop and ends the stream |
 *
 * The two shortfall rules are kept as they were before this table (streams.test.ts pins both). LV2V debits
 * run on a timer, not per ingest segment as in go-livepeer.
 */
import type { Address } from "viem";
import type { Logger } from "../node/logger.ts";
import type { Rat } from "../payments/rational.ts";
import type { TrickleServer } from "../trickle/server.ts";
import type { PriceUnit } from "./config.ts";
import type { PaymentGate } from "./payments.ts";
import type { Lease } from "./registry.ts";

/** What a stream's credit runs out under: see the table in this file's header. */
export type ShortfallRule = "end-unpaid" | "grace-once";

/** How a kind of stream is charged. */
export interface DebitPolicy {
  periodMs: number;
  /** Units charged per period. */
  units: bigint;
  whenShort: ShortfallRule;
}

/** Who pays for a stream, at what price per unit. */
export interface StreamPayer {
  sender: Address;
  /** The balance charged: the LV2V manifest id, or the BYOC capability name. */
  manifestId: string;
  price: Rat;
}

/** A running stream. */
export interface LiveStream {
  id: string;
  kind: "lv2v" | "byoc";
  lease: Lease;
  channels: string[];
  /** The channel whose end stops the stream (the control channel). */
  watch: string;
  /** Its video input channel, when it takes input: silent for the idle timeout, the stream ends. */
  input?: string;
  /**
   * BYOC: who may update, pay for and stop it: the lower-case address whose job signature verified
   * at start, or "" for an unsigned start (offchain only). See routes/byoc-streams.ts `ownedStream`.
   */
  owner?: string;
  /** Set while the stream is charged ({@link StreamTable.charge}). */
  billing?: StreamBilling;
}

interface StreamBilling extends StreamPayer {
  policy: DebitPolicy;
  negativeTicks: number;
  timer: NodeJS.Timeout;
  /** Called before a `grace-once` stream is ended for want of credit (tell the container). */
  onExhausted: ((s: LiveStream) => void) | undefined;
}

/** Whole seconds of a period, at least one. */
function periodSeconds(periodMs: number): bigint {
  return BigInt(Math.max(1, Math.round(periodMs / 1000)));
}

/**
 * LV2V: every `periodMs`, `price × units` where a unit is a pixel of 1280×720 at 30 fps
 * (go-livepeer's), a frame at 30 fps, or a second (`price_unit`); `end-unpaid`.
 */
export function liveVideoPolicy(periodMs: number, unit: PriceUnit): DebitPolicy {
  const seconds = periodSeconds(periodMs);
  const units = unit === "pixel" ? 1280n * 720n * 30n * seconds : unit === "frame" ? 30n * seconds : seconds;
  return { periodMs, units, whenShort: "end-unpaid" };
}

/** BYOC streams: every `periodMs`, its whole seconds × price; `grace-once`. */
export function byocStreamPolicy(periodMs: number): DebitPolicy {
  return { periodMs, units: periodSeconds(periodMs), whenShort: "grace-once" };
}

/** Options of {@link StreamTable}. */
export interface StreamTableOptions {
  trickle: TrickleServer;
  gate: PaymentGate | undefined;
  log: Logger;
  /** How often streams are checked for a closed control channel or an idle input; default 2000 ms. */
  checkIntervalMs?: number;
  /** End a stream whose input channel got no write this long, ms; default {@link DEFAULT_STREAM_IDLE_TIMEOUT_MS}; 0 = never. */
  idleTimeoutMs?: number;
}

/** Default idle timeout of a stream's input (started and never fed, or its gateway went away). */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 60_000;

/** The running streams by id. */
export class StreamTable {
  readonly #streams = new Map<string, LiveStream>();
  readonly #trickle: TrickleServer;
  readonly #gate: PaymentGate | undefined;
  readonly #log: Logger;
  readonly #checker: NodeJS.Timeout;

  constructor(options: StreamTableOptions) {
    this.#trickle = options.trickle;
    this.#gate = options.gate;
    this.#log = options.log;
    const idleMs = options.idleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
    this.#checker = setInterval(() => {
      const now = Date.now();
      for (const s of [...this.#streams.values()]) {
        const ch = this.#trickle.getChannel(s.watch);
        if (ch === undefined || ch.closed) {
          this.end(s, "control channel closed");
          continue;
        }
        // A channel's write time is its creation until the first segment: a never-fed stream counts too.
        const input = s.input === undefined ? undefined : this.#trickle.getChannel(s.input);
        if (idleMs > 0 && input !== undefined && !input.closed && now - input.writeTime > idleMs)
          this.end(s, `input idle for ${idleMs} ms`);
      }
    }, options.checkIntervalMs ?? 2000);
    this.#checker.unref();
  }

  get size(): number {
    return this.#streams.size;
  }

  has(id: string): boolean {
    return this.#streams.has(id);
  }

  get(id: string): LiveStream | undefined {
    return this.#streams.get(id);
  }

  /** Adds a stream whose channels exist. */
  add(s: LiveStream): void {
    this.#streams.set(s.id, s);
  }

  /** Ends `s` (once): stops its charging, deletes its channels, frees its slot. */
  end(s: LiveStream, reason: string): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    if (s.billing) clearInterval(s.billing.timer);
    for (const ch of s.channels) this.#trickle.deleteChannel(ch);
    s.lease.release();
    this.#log.info({ stream_id: s.id, capability: s.lease.capability.key, reason }, "stream ended");
  }

  /**
   * A control channel is being deleted (a gateway that stops a stream deletes it): its stream ends
   * right after the delete rather than at the next check, so its slot is free for a new stream at once.
   */
  controlDeleted(name: string): void {
    for (const s of this.#streams.values())
      if (s.watch === name) setImmediate(() => this.end(s, "control channel deleted"));
  }

  /** Starts charging `s` every period by `policy` (see the header of this file). */
  charge(
    s: LiveStream,
    payer: StreamPayer,
    policy: DebitPolicy,
    onExhausted?: (s: LiveStream) => void,
  ): void {
    const timer = setInterval(() => debitTick(this, this.#gate, this.#log, s), policy.periodMs);
    timer.unref();
    s.billing = { ...payer, policy, negativeTicks: 0, timer, onExhausted };
  }

  /** Stops checking and ends every stream. */
  close(reason: string): void {
    clearInterval(this.#checker);
    for (const s of [...this.#streams.values()]) this.end(s, reason);
  }
}

/** One period of a charged stream: the one debit mechanism of both kinds. */
function debitTick(table: StreamTable, gate: PaymentGate | undefined, log: Logger, s: LiveStream): void {
  const b = s.billing;
  if (b === undefined) return;
  if (gate === undefined || table.get(s.id) !== s) {
    clearInterval(b.timer);
    return;
  }
  if (b.policy.whenShort === "end-unpaid") {
    const fee = b.price.mul(b.policy.units);
    const balance = gate.balance(b.sender, b.manifestId);
    if (balance.cmp(fee) < 0) {
      log.warn(
        { stream_id: s.id, balance: balance.toFixed(0), fee: fee.toFixed(0) },
        "live stream out of credit",
      );
      table.end(s, "insufficient balance");
      return;
    }
    gate.debit(b.sender, b.manifestId, b.price, b.policy.units);
    return;
  }
  const balance = gate.debit(b.sender, b.manifestId, b.price, b.policy.units);
  if (balance.cmp(0n) >= 0) {
    b.negativeTicks = 0;
    return;
  }
  b.negativeTicks++;
  log.warn({ stream_id: s.id, balance: balance.toFixed(0) }, "stream balance is negative");
  if (b.negativeTicks < 2) return;
  b.onExhausted?.(s);
  table.end(s, "insufficient balance");
}
