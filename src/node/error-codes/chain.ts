/** Error codes: chain (keys, RPC, devnet). Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const CHAIN_ERROR_CODES = {
  CHAIN_UNAVAILABLE: {
    status: 503,
    meaning:
      "The Ethereum RPC cannot be reached or timed out (ticket redemption retries it); check --eth-url.",
    components: ["chain", "payments"],
  },
  KEY_REQUIRED: {
    status: 400,
    meaning: "This --network needs the account's key; pass --key-file.",
    components: ["chain"],
  },
  KEY_FILE_UNREADABLE: {
    status: 400,
    meaning: "The key file (or keystore directory) cannot be read; check the path and its permissions.",
    components: ["chain"],
  },
  INVALID_PRIVATE_KEY: {
    status: 400,
    meaning:
      "The key file holds neither a 32-byte hex private key nor a V3 JSON keystore; give a valid key file.",
    components: ["chain"],
  },
  KEYSTORE_INVALID: {
    status: 400,
    meaning: "The JSON keystore is not a usable V3 keystore; the message says what is wrong with it.",
    components: ["chain"],
  },
  KEYSTORE_WRONG_PASSWORD: {
    status: 400,
    meaning: "The keystore's MAC check failed with the given password; check --password.",
    components: ["chain"],
  },
  KEYSTORE_PASSWORD_REQUIRED: {
    status: 400,
    meaning: "The key file is an encrypted keystore; give its password with --password.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_REQUIRED: {
    status: 400,
    meaning: "The keystore directory holds no keystore, or several; pick one with --eth-acct-addr.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_NOT_FOUND: {
    status: 400,
    meaning:
      "The keystore directory holds no keystore for --eth-acct-addr; check the address or the directory.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_INVALID: {
    status: 400,
    meaning: "--eth-acct-addr is not an Ethereum address; give a 0x-prefixed 20-byte address.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_MISMATCH: {
    status: 400,
    meaning: "The key file holds another account than --eth-acct-addr; give the matching key or address.",
    components: ["chain"],
  },
  CHAIN_NO_L1_BLOCK: {
    status: 502,
    meaning:
      "On Arbitrum One the RPC's latest block must carry l1BlockNumber (the tickets' clock) and it does not; use an Arbitrum RPC for --eth-url.",
    components: ["chain"],
  },
  BAD_SIGNER_SIGNATURE: {
    status: 500,
    meaning:
      "The configured signer returned something other than a 65-byte signature with v 27 or 28; use a standard Ethereum signer.",
    components: ["payments"],
  },
  REDEEM_REVERTED: {
    status: 502,
    meaning:
      "Redeeming a winning ticket reverted on chain (the contract's reason is in the message); the ticket is marked failed, or retried when the reason is temporary.",
    components: ["payments", "chain"],
  },
  FUNDING_FAILED: {
    status: 500,
    meaning:
      "Funding the TicketBroker deposit or reserve failed; the message says why (amounts, contract, balance).",
    components: ["chain"],
  },
  ANVIL_START_FAILED: {
    status: 500,
    meaning: "The local anvil devnet chain did not start; the message says why (binary missing, port, exit).",
    components: ["chain"],
  },
  PRICE_FEED_UNAVAILABLE: {
    status: 503,
    meaning:
      "The ETH/USD price feed cannot be read, answers a price <= 0 or is not an ETH / USD feed, or this orchestrator has none (offchain): USD-priced work is refused; check --price-feed-addr and --eth-url, or price in wei.",
    components: ["chain", "orchestrator"],
  },
  PRICE_FEED_STALE: {
    status: 503,
    meaning:
      "The ETH/USD price feed's latest answer is older than --price-feed-max-age: USD-priced work is refused until the feed updates (or raise the limit).",
    components: ["chain"],
  },
  DEVNET_DEPLOY_FAILED: {
    status: 500,
    meaning:
      "Deploying or driving the devnet's contracts failed (a transaction reverted or anvil refused); see the message and retry.",
    components: ["chain", "dev"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
