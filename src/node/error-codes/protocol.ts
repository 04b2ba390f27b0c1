/** Error codes: protocol (headers and wire formats). Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const PROTOCOL_ERROR_CODES = {
  BAD_JOB_HEADER: {
    status: 400,
    meaning:
      "The BYOC `Livepeer` job header is not base64 JSON of the expected shape; the message names the field.",
    components: ["protocol"],
  },
  BAD_JOB_SENDER: {
    status: 400,
    meaning:
      "The `Livepeer-Eth-Address` header is missing or not a signed sender address; send the gateway's signed address.",
    components: ["protocol"],
  },
  BAD_PAYMENT: {
    status: 400,
    meaning:
      "A number in the payment does not fit its field (e.g. over 32 bytes for a uint256); send a valid payment.",
    components: ["protocol"],
  },
  BAD_PAYMENT_HEADER: {
    status: 402,
    meaning:
      "The `Livepeer-Payment` header is not base64 of a valid Payment protobuf; send one made from fresh ticket params.",
    components: ["protocol"],
  },
  BAD_SEGMENT_HEADER: {
    status: 403,
    meaning:
      "The `Livepeer-Segment` header is missing or undecodable; send the segment credentials with the payment.",
    components: ["protocol", "orchestrator"],
  },
  BAD_TICKET_PARAMS: {
    status: 400,
    meaning:
      "Ticket params in go-livepeer's JSON form are malformed; echo the params the orchestrator sent, unchanged.",
    components: ["protocol"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
