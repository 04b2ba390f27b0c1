/**
 * The network explorer: the active set and the capabilities across it, measured without paying
 * anyone ({@link createExplorerSource}), computed in one place ({@link aggregate}), and shown by the
 * dashboard page (`tributary explorer`, and the gateway's `/dashboard`).
 */
export * from "./active-set.ts";
export * from "./aggregate.ts";
export * from "./server.ts";
export * from "./source.ts";
export * from "./usd.ts";
export * from "./views.ts";
