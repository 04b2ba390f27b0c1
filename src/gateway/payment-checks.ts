/**
 * Checks both payers make ({@link GatewayPayments} with the gateway's own key, `RemotePayments` through
 * a remote signer): the first price seen per orchestrator and capability, a priced orchestrator that
 * sent no ticket params, and a payments-layer refusal turned into the gateway's 402.
 */
import { TributaryError } from "../node/errors.ts";
import { checkPriceIncrease, PaymentError, type Rat } from "../payments/index.ts";

/**
 * Keeps the first price per `key` in `seen`; a later price over the allowed increase throws the
 * payments layer's `PaymentError` (see {@link asPaymentRefusal}).
 */
export function checkKeptPrice(seen: Map<string, Rat>, key: string, perUnit: Rat): void {
  const initial = seen.get(key);
  if (initial === undefined) seen.set(key, perUnit);
  else checkPriceIncrease(initial, perUnit);
}

/** What a priced orchestrator that sent no ticket params is told (502). */
export function noTicketParams(): TributaryError {
  return new TributaryError("NO_TICKET_PARAMS", "a priced orchestrator sent no ticket params", {
    status: 502,
  });
}

/**
 * A `PaymentError` as the gateway's 402 with the same code (its message prefixed with
 * `cannot pay <orchestrator>:` when one is named); any other error unchanged.
 */
export function asPaymentRefusal(err: unknown, orchestrator?: string): unknown {
  if (!(err instanceof PaymentError)) return err;
  const message = orchestrator === undefined ? err.message : `cannot pay ${orchestrator}: ${err.message}`;
  return new TributaryError(err.code, message, { status: 402, cause: err });
}
