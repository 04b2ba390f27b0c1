/**
 * ABIs as typed constants. They come from our own devnet contracts (src/chain/contracts), which
 * implement the mainnet function and event signatures Tributary uses (docs/spec/payments.md#abi-signatures), so
 * the same constants serve Arbitrum One. Devnet-only administration (`setTranscoderStake`, …) is also
 * present; never call it against mainnet. `priceFeedAbi` is the Chainlink AggregatorV3 read side
 * (`decimals`, `description`, `latestRoundData`) that Chainlink's ETH/USD feed also has, plus the devnet
 * feed's setters.
 */
export {
  bondingManagerAbi,
  controllerAbi,
  priceFeedAbi,
  roundsManagerAbi,
  serviceRegistryAbi,
  ticketBrokerAbi,
} from "./contracts.gen.ts";

import { serviceRegistryAbi } from "./contracts.gen.ts";

/** The AI Service Registry has the ServiceRegistry ABI (docs/spec/payments.md#ai-service-registry). */
export const aiServiceRegistryAbi = serviceRegistryAbi;
