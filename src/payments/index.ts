/**
 * Probabilistic micropayments: the public face of src/payments (docs/spec/payments.md).
 * Wire codecs for the headers live in src/protocol (payment-header.ts, segment-header.ts).
 */
export * from "./balances.ts";
export * from "./chain-facts.ts";
export * from "./constants.ts";
export * from "./ecrecover.ts";
export * from "./errors.ts";
export * from "./nonce-store.ts";
export * from "./rational.ts";
export * from "./recipient.ts";
export * from "./redeemer.ts";
export * from "./sender.ts";
export * from "./signature.ts";
export * from "./store/store.ts";
export * from "./ticket.ts";
export type * from "./types.ts";
export type * from "./winner-queue.ts";
