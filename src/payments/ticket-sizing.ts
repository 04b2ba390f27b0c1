/**
 * How big the orchestrator's tickets are (docs/spec/payments.md#ticket-parameters; go-livepeer
 * pm/recipient.go `faceValue`, `winProb`, `TxCostMultiplier`): the face value from the redemption
 * cost and the sender's reserve, the win probability that gives the ticket EV, and the raised EV
 * quoted when a gateway's usual payment would take too many tickets.
 *
 * Pure apart from the injected gas price and sender facts; used by {@link Recipient}.
 */
import type { Address } from "viem";
import type { GasPriceSource, SenderMonitor } from "./chain-facts.ts";
import {
  AVG_GAS_PRICE,
  DEFAULT_MAX_TICKET_EV,
  EV_MULTIPLIER,
  MAX_WIN_PROB,
  TX_COST_MULTIPLIER,
} from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";

/**
 * Default most tickets a gateway's usual payment should take ({@link TicketSizingOptions.targetTicketsPerPayment}):
 * 50 tickets are a `Livepeer-Payment` header of about 5 KB and about 25 ms of signing, and one
 * ticket is then at most 2 % of the payment (2.4 s of a BYOC price), so rounding up to whole tickets
 * overpays little.
 */
export const DEFAULT_TARGET_TICKETS_PER_PAYMENT = 50;

/** The ticket size settings of a recipient (part of `RecipientOptions`). */
export interface TicketSizingOptions {
  /** Required EV per ticket in wei (`-ticketEV`, default 8000000000). */
  ticketEV: bigint;
  /** Gas to redeem one ticket: REDEEM_GAS_L2 on Arbitrum, REDEEM_GAS_L1 on L1. */
  redeemGas: bigint;
  /** Face value = txCost × this (default 100). */
  txCostMultiplier?: bigint;
  /** Upper bound on face value; 0 or undefined = unlimited (`-maxFaceValue`). */
  maxFaceValue?: bigint;
  /**
   * Most tickets a gateway's usual payment at the quoted price should take; 0 = always quote
   * `ticketEV`. Default {@link DEFAULT_TARGET_TICKETS_PER_PAYMENT}. See `Recipient.ticketParams`.
   */
  targetTicketsPerPayment?: number;
  /**
   * Highest EV a raised quote may have (wei); default go-livepeer gateways' `-maxTicketEV`
   * (3000 gwei), which they refuse to exceed.
   */
  maxScaledTicketEV?: bigint;
  gasPrice: GasPriceSource;
  senders: SenderMonitor;
}

/** Face value and win probability of a recipient's tickets. */
export class TicketSizing {
  readonly #ev: bigint;
  readonly #redeemGas: bigint;
  readonly #txCostMultiplier: bigint;
  #maxFaceValue: bigint;
  readonly #target: bigint;
  readonly #maxScaledEV: bigint;
  readonly #gas: GasPriceSource;
  readonly #senders: SenderMonitor;

  constructor(o: TicketSizingOptions) {
    if (o.ticketEV < 0n) throw new RangeError("ticketEV must be ≥ 0");
    this.#ev = o.ticketEV;
    this.#redeemGas = o.redeemGas;
    this.#txCostMultiplier = o.txCostMultiplier ?? TX_COST_MULTIPLIER;
    this.#maxFaceValue = o.maxFaceValue ?? 0n;
    const target = o.targetTicketsPerPayment ?? DEFAULT_TARGET_TICKETS_PER_PAYMENT;
    if (!Number.isInteger(target) || target < 0)
      throw new RangeError("targetTicketsPerPayment must be an integer ≥ 0");
    this.#target = BigInt(target);
    this.#maxScaledEV = o.maxScaledTicketEV ?? DEFAULT_MAX_TICKET_EV;
    this.#gas = o.gasPrice;
    this.#senders = o.senders;
  }

  /** Required EV per ticket in wei. */
  get ev(): bigint {
    return this.#ev;
  }

  /** Changes the face value cap; 0 = unlimited. */
  setMaxFaceValue(max: bigint): void {
    this.#maxFaceValue = max;
  }

  /** Redemption transaction cost at the current gas price. */
  txCost(gasPrice: bigint = this.#gas.gasPrice() ?? 0n): bigint {
    return this.#redeemGas * gasPrice;
  }

  /**
   * Face value for `sender` (docs/spec/payments.md#ticket-parameters): txCost × multiplier, or EV × 100 if that is below EV; capped by the
   * sender's max float and `maxFaceValue`. Throws INSUFFICIENT_SENDER_RESERVE when the result is
   * below EV, or below both txCost and txCost at 3 gwei.
   */
  async faceValue(sender: Address): Promise<bigint> {
    const txCost = this.txCost();
    let fv = txCost * this.#txCostMultiplier;
    if (fv < this.#ev) fv = this.#ev * EV_MULTIPLIER;
    const maxFloat = await this.#senders.maxFloat(sender);
    if (fv > maxFloat) fv = maxFloat;
    if (this.#maxFaceValue > 0n && this.#maxFaceValue < fv) fv = this.#maxFaceValue;
    const avgTxCost = this.txCost(AVG_GAS_PRICE);
    if (fv < this.#ev || (fv < txCost && fv < avgTxCost)) {
      let needed = txCost;
      if (avgTxCost < needed) needed = avgTxCost;
      if (this.#ev > needed) needed = this.#ev;
      throw new PaymentError(
        "INSUFFICIENT_SENDER_RESERVE",
        `sender ${sender} can only back tickets of ${maxFloat} wei towards this orchestrator (its reserve share), ` +
          `but a ticket needs a face value of at least ${needed} wei: fund at least ${needed - maxFloat} wei more ` +
          `reserve per active orchestrator (the reserve is split across the active set)`,
        {
          upstream: "insufficient sender reserve",
          details: {
            sender,
            maxFloat: maxFloat.toString(),
            required: needed.toString(),
            faceValue: fv.toString(),
          },
        },
      );
    }
    return fv;
  }

  /**
   * Win probability for a face value (docs/spec/payments.md#ticket-parameters): 0 for 0; 2^256 − 1 when faceValue = EV; else
   * EV × ceil-ish(maxWinProb / faceValue) exactly as go-livepeer computes it.
   */
  winProb(faceValue: bigint, ev: bigint = this.#ev): bigint {
    if (faceValue === 0n) return 0n;
    if (faceValue === ev) return MAX_WIN_PROB;
    const x = MAX_WIN_PROB / faceValue;
    return MAX_WIN_PROB % faceValue !== 0n ? ev * (x + 1n) : ev * x;
  }

  /**
   * The EV to quote at `price` for a usual payment of `usualUnits` units: the ticket EV, or, when
   * price × units would take more than the target number of tickets of that EV, ceil(price × units /
   * target), below {@link TicketSizingOptions.maxScaledTicketEV}. Never below the ticket EV.
   */
  wantedEV(price: Rat, usualUnits: bigint): bigint {
    if (this.#target === 0n || usualUnits <= 0n || price.cmp(0n) <= 0) return this.#ev;
    const want = price.mul(usualUnits).div(this.#target).ceil();
    let ev = want;
    // − 1: the win probability rounds up, so the EV quoted is a fraction of a wei above this one.
    if (ev >= this.#maxScaledEV) ev = this.#maxScaledEV - 1n;
    if (ev < this.#ev) ev = this.#ev;
    return ev;
  }

  /**
   * Face value and win probability at `price` (docs/spec/payments.md#ticket-parameters): go-livepeer's
   * at the ticket EV, unless {@link wantedEV} is higher. Then go-livepeer's face value rule runs at
   * that EV (txCost × multiplier, or EV × 100 when that is below the EV), bounded by the sender's
   * max float, `maxFaceValue` and the sender's deposit (a gateway refuses a face value above its
   * deposit; a default face value already above it is kept), and never below the default face
   * value; the EV is then kept below the face value (win probability under 1). Where the bounds
   * leave no room, the quote is the default one and the gateway sends more tickets.
   */
  async faceValueAndWinProb(
    sender: Address,
    price: Rat,
    usualUnits: bigint,
  ): Promise<{ fv: bigint; wp: bigint }> {
    const fv = await this.faceValue(sender);
    const want = this.wantedEV(price, usualUnits);
    if (want === this.#ev) return { fv, wp: this.winProb(fv) };
    let big = this.txCost() * this.#txCostMultiplier;
    if (big < want) big = want * EV_MULTIPLIER;
    const maxFloat = await this.#senders.maxFloat(sender);
    if (big > maxFloat) big = maxFloat;
    if (this.#maxFaceValue > 0n && big > this.#maxFaceValue) big = this.#maxFaceValue;
    const { deposit } = await this.#senders.senderInfo(sender);
    if (big > deposit) big = deposit;
    if (big < fv) big = fv;
    const ev = want < big ? want : big - 1n;
    const wp = this.winProb(big, ev);
    if (ev <= this.#ev || wp >= MAX_WIN_PROB) return { fv, wp: this.winProb(fv) };
    return { fv: big, wp };
  }

  /** faceValue / txCost for `sender` (go-livepeer `TxCostMultiplier`); 0 when gas is free. */
  async txCostMultiplierFor(sender: Address): Promise<Rat> {
    const fv = await this.faceValue(sender);
    const txCost = this.txCost();
    return txCost <= 0n ? Rat.ZERO : Rat.of(fv, txCost);
  }
}
