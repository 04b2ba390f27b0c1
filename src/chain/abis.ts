/**
 * ABIs as typed constants. They come from our own devnet contracts (src/chain/contracts), which
 * implement the mainnet function and event signatures Tributary uses (shared/spec/payments.md §21), so
 * the same constants serve Arbitrum One. Devnet-only administration (`setTranscoderStake`, …) is also
 * present; never call it against mainnet.
 */
export {
  bondingManagerAbi,
  controllerAbi,
  roundsManagerAbi,
  serviceRegistryAbi,
  ticketBrokerAbi,
} from "./contracts.gen.ts";

import { serviceRegistryAbi } from "./contracts.gen.ts";

/** The AI Service Registry has the ServiceRegistry ABI (spec §20.2). */
export const aiServiceRegistryAbi = serviceRegistryAbi;
