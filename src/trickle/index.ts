/** Trickle: Livepeer's HTTP publish/subscribe transport (docs/spec/trickle.md). */
export * from "./channel.ts";
export * from "./client-errors.ts";
export {
  TrickleHttpClient,
  type TrickleHttpClientOptions,
  type TrickleResponse,
  type TrickleTlsOptions,
} from "./http-client.ts";
export * from "./local.ts";
export * from "./publisher.ts";
export * from "./segment-buffer.ts";
export * from "./server.ts";
export * from "./subscriber.ts";
