/** Error codes: payments (tickets). Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const PAYMENTS_ERROR_CODES = {
  TICKET_EXPIRED: {
    status: 400,
    meaning:
      "The ticket params' expiration block has passed; fetch fresh ticket params (GetOrchestrator or /process/token).",
    components: ["payments"],
  },
  INVALID_TICKET_RECIPIENT: {
    status: 400,
    meaning:
      "The ticket is addressed to another orchestrator; use the ticket params this orchestrator quoted.",
    components: ["payments"],
  },
  INVALID_TICKET_SENDER: {
    status: 400,
    meaning: "The ticket's sender is the zero address; set the payment's sender.",
    components: ["payments"],
  },
  INVALID_RECIPIENT_RAND: {
    status: 400,
    meaning:
      "The ticket params do not match what this orchestrator quoted (or it restarted); fetch fresh params and echo them exactly.",
    components: ["payments"],
  },
  INVALID_SIGNATURE: {
    status: 400,
    meaning:
      "The ticket signature is not the sender's 65-byte low-s personal signature over the ticket hash; sign with the sender's key.",
    components: ["payments"],
  },
  NONCE_REUSED: {
    status: 400,
    meaning:
      "A ticket with this sender nonce was already received for these params; give each ticket a new nonce.",
    components: ["payments"],
  },
  TOO_MANY_NONCES: {
    status: 400,
    meaning:
      "These ticket params already carried the most tickets an orchestrator accepts; fetch fresh ticket params.",
    components: ["payments"],
  },
  SENDER_UNLOCKING: {
    status: 400,
    meaning:
      "The sender's deposit and reserve are unlocking; cancel the unlock (or fund again) before paying.",
    components: ["payments"],
  },
  SENDER_INFO_UNAVAILABLE: {
    status: 503,
    meaning: "The orchestrator could not read the sender's deposit and reserve from the chain; retry later.",
    components: ["payments"],
  },
  INSUFFICIENT_SENDER_RESERVE: {
    status: 400,
    otherStatuses: [503],
    meaning:
      "The sender's reserve share cannot back a ticket's face value (503 when asking for ticket params); fund more reserve.",
    components: ["payments", "orchestrator"],
  },
  NO_SENDER_RESERVE: {
    status: 400,
    meaning:
      "This gateway's account has no TicketBroker reserve; fund one (tributary deposit) before paying.",
    components: ["payments"],
  },
  NO_SENDER_DEPOSIT: {
    status: 400,
    meaning:
      "This gateway's account has no TicketBroker deposit; fund one (tributary deposit) before paying.",
    components: ["payments"],
  },
  FACE_VALUE_TOO_LOW: {
    status: 400,
    meaning:
      "The orchestrator's ticket face value is not above the ticket's expected value; its params are invalid.",
    components: ["payments"],
  },
  TICKET_EV_TOO_HIGH: {
    status: 400,
    meaning:
      "The orchestrator asks for a ticket EV above this gateway's --max-ticket-ev; raise it or use another orchestrator.",
    components: ["payments"],
  },
  TOO_MANY_TICKETS: {
    status: 400,
    meaning:
      "A payment needs more tickets than the gateway's --max-tickets-per-payment (the orchestrator's ticket EV is small for its price); raise the limit (at most 600) or use an orchestrator with a higher ticket EV.",
    components: ["payments", "signer"],
  },
  TOTAL_EV_TOO_HIGH: {
    status: 400,
    meaning:
      "One payment would carry more EV than this gateway's --max-total-ev; raise it or send smaller requests.",
    components: ["payments"],
  },
  FACE_VALUE_ABOVE_DEPOSIT: {
    status: 400,
    meaning:
      "The orchestrator's ticket face value is above what this gateway's deposit allows; fund more deposit.",
    components: ["payments"],
  },
  INVALID_TICKET_PARAMS: {
    status: 400,
    meaning: "The ticket params are unusable (e.g. no expiration block); fetch fresh ticket params.",
    components: ["payments"],
  },
  INVALID_PRICE: {
    status: 400,
    meaning:
      "The payment's expected price is missing or invalid; echo the price info that came with the ticket params.",
    components: ["payments"],
  },
  MISSING_SENDER: {
    status: 400,
    meaning: "The payment has ticket params but no sender; set Payment.sender.",
    components: ["payments"],
  },
  INSUFFICIENT_BALANCE: {
    status: 400,
    otherStatuses: [402],
    meaning:
      "The sender's credit does not cover the request (402 on BYOC stream routes); send tickets worth at least the amount missing.",
    components: ["payments", "orchestrator"],
  },
  UNKNOWN_SESSION: {
    status: 400,
    meaning:
      "The gateway has no payment session by that id; start one from the orchestrator's ticket params.",
    components: ["payments"],
  },
  PRICE_INCREASED: {
    status: 400,
    meaning:
      "The orchestrator's price more than doubled since the session began; start a new session or pick another orchestrator.",
    components: ["payments"],
  },
  CHAIN_FACTS_STALE: {
    status: 503,
    meaning:
      "The orchestrator has not read the chain for longer than its staleness limit and refuses paid work; check --eth-url.",
    components: ["payments", "chain"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
