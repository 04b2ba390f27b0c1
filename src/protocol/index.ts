/** Wire formats only, no I/O: trickle facts, payment and segment headers, integer bytes, keccak, protobuf. */
export * from "./base64.ts";
export * from "./bigint-bytes.ts";
export * from "./capabilities.ts";
export * from "./job-header.ts";
export * from "./keccak.ts";
export * from "./payment-header.ts";
export type * from "./payment-types.ts";
export * from "./segment-header.ts";
export * from "./ticket-params-json.ts";
export * from "./trickle.ts";
