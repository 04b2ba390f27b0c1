/**
 * Contract addresses and ids (docs/spec/payments.md#controller-and-rounds, #arbitrum-one-addresses).
 */
import { type Address, type Hex, keccak256, toBytes } from "viem";

/** Arbitrum One chain id. */
export const ARBITRUM_ONE_CHAIN_ID = 42161;

/** Livepeer contracts on Arbitrum One (livepeer/protocol `deployments/arbitrumMainnet/`). */
export const ARBITRUM_ONE_ADDRESSES = {
  controller: "0xD8E8328501E9645d16Cf49539efC04f734606ee4",
  ticketBroker: "0xa8bB618B1520E284046F3dFc448851A1Ff26e41B",
  ticketBrokerTarget: "0xea1b0F6c8D158328a6e3D3F924B86A759F41465c",
  serviceRegistry: "0xC92d3A360b8f9e083bA64DE15d95Cf8180897431",
  serviceRegistryTarget: "0x38093CDca43aeCd7bb474983519A246e93A3b0a7",
  /** Not registered in the Controller; hard-coded in go-livepeer's starter (`-aiServiceRegistry`). */
  aiServiceRegistry: "0x04C0b249740175999E5BF5c9ac1dA92431EF34C5",
  bondingManager: "0x35Bcf3c30594191d53231E4FF333E8A770453e40",
  roundsManager: "0xdd6f56DcC28D3F5f27084381fE8Df634985cc39f",
  minter: "0xc20DE37170B45774e6CD3d2304017fc962f27252",
} as const satisfies Record<string, Address>;

/**
 * Chainlink's ETH/USD aggregator on Arbitrum One (8 decimals, description "ETH / USD"): go-livepeer's
 * `-priceFeedAddr` default, read to turn USD prices into wei (src/chain/price-feed.ts).
 */
export const ARBITRUM_ONE_ETH_USD_FEED: Address = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612";

/** The set of contract addresses a node uses, on any network. */
export interface ContractAddresses {
  controller: Address;
  ticketBroker: Address;
  roundsManager: Address;
  bondingManager: Address;
  serviceRegistry: Address;
  aiServiceRegistry: Address;
}

/** Controller id of a contract: `keccak256("<ContractName>")`. */
export function contractId(name: string): Hex {
  return keccak256(toBytes(name));
}

/** Controller ids of the contracts Tributary resolves. */
export const CONTRACT_IDS = {
  TicketBroker: contractId("TicketBroker"),
  BondingManager: contractId("BondingManager"),
  RoundsManager: contractId("RoundsManager"),
  ServiceRegistry: contractId("ServiceRegistry"),
  Minter: contractId("Minter"),
} as const;
