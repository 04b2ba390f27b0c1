/** Protocol constants of the micropayment system (docs/spec/payments.md#constants). */

/** Win probability denominator, 2^256 − 1. // go-livepeer pm/recipient.go maxWinProb */
export const MAX_WIN_PROB = (1n << 256n) - 1n;
/** Max distinct sender nonces per recipientRand. // go-livepeer pm/recipient.go maxSenderNonces */
export const MAX_SENDER_NONCES = 600;
/** Ticket params live this many L1 blocks. // go-livepeer pm/recipient.go paramsExpirationBlock */
export const PARAMS_EXPIRATION_BLOCKS = 40n;
/** Sender refuses params expiring within this many blocks. // go-livepeer pm/recipient.go paramsExpiryBuffer */
export const PARAMS_EXPIRY_BUFFER = 1n;
/** Face value = EV × this when txCost × multiplier < EV. // go-livepeer pm/recipient.go evMultiplier */
export const EV_MULTIPLIER = 100n;
/** Hard-coded average gas price, 3 gwei. // go-livepeer pm/recipient.go avgGasPrice */
export const AVG_GAS_PRICE = 3_000_000_000n;
/** Redeem gas on L1. // go-livepeer cmd/livepeer/starter redeemGasL1 */
export const REDEEM_GAS_L1 = 350_000n;
/** Redeem gas on Arbitrum. // go-livepeer cmd/livepeer/starter redeemGasL2 */
export const REDEEM_GAS_L2 = 1_200_000n;
/** Face value = txCost × this. // go-livepeer cmd/livepeer/starter txCostMultiplier */
export const TX_COST_MULTIPLIER = 100n;
/** Orchestrator's default required ticket EV in wei. // go-livepeer starter -ticketEV */
export const DEFAULT_TICKET_EV = 8_000_000_000n;
/** Sender's default max EV of one ticket in wei. // go-livepeer starter -maxTicketEV */
export const DEFAULT_MAX_TICKET_EV = 3_000_000_000_000n;
/** Sender's default max EV of one batch in wei. // go-livepeer starter -maxTotalEV */
export const DEFAULT_MAX_TOTAL_EV = 20_000_000_000_000n;
/** Sender's default deposit multiplier. // go-livepeer starter -depositMultiplier */
export const DEFAULT_DEPOSIT_MULTIPLIER = 1n;
/** secp256k1 group order n. // go-livepeer crypto/verify.go */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** floor(n / 2): a signature's s must not exceed it. // go-livepeer crypto/verify.go secp256k1halfN */
export const SECP256K1_HALF_N = SECP256K1_N / 2n;
