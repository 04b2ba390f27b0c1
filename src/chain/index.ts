/**
 * The chain layer: viem clients, ABIs and addresses, the devnet (our own contracts on anvil), sender
 * funding, and the redeemer's chain adapter.
 */
export * from "./abis.ts";
export * from "./addresses.ts";
export * from "./anvil.ts";
export * from "./chain-facts.ts";
export * from "./clients.ts";
export * from "./devnet.ts";
export * from "./devnet-tickets.ts";
export * from "./network.ts";
export * from "./price-feed.ts";
export * from "./redeemer-chain.ts";
export * from "./ticket-broker.ts";
