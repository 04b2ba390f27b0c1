/** Trickle: Livepeer's HTTP publish/subscribe transport (spec trickle.md). */
export * from "./channel.ts";
export * from "./local.ts";
export * from "./segment-buffer.ts";
export * from "./server.ts";
