/** An example `Livepeer-Payment` header for the dev network's summary (never sent). */
import { request as httpsRequest } from "node:https";
import { TributaryError } from "../node/errors.ts";
import type { Sender } from "../payments/sender.ts";
import { encodePaymentHeader } from "../protocol/payment-header.ts";
import { parseJsonBig, priceInfoFromGoJson, ticketParamsFromGoJson } from "../protocol/ticket-params-json.ts";
import { TEXT_REVERSE_CAPABILITY } from "./constants.ts";

/** GETs a URL over TLS without verifying the orchestrator's self-signed certificate. */
function getInsecure(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { headers, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(body)
          : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`)),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * A `Livepeer-Payment` header with one ticket from the gateway account for text-reverse, made from the
 * orchestrator's `/process/token` ticket params. It is never sent: an example to decode.
 */
export async function samplePayment(
  orchUrl: string,
  ethAddressHeader: string,
  sender: Sender,
): Promise<string> {
  const token = parseJsonBig(
    await getInsecure(`${orchUrl}/process/token`, {
      "livepeer-eth-address": ethAddressHeader,
      "livepeer-capability": TEXT_REVERSE_CAPABILITY,
    }),
  ) as { price?: unknown; ticket_params?: unknown };
  if (token.price === undefined || token.ticket_params === undefined)
    throw new TributaryError("DEV_NETWORK_FAILED", "the orchestrator sent no price or ticket params", {
      status: 500,
    });
  const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
  try {
    return encodePaymentHeader(await sender.createPayment(session, 1, priceInfoFromGoJson(token.price)));
  } finally {
    sender.cleanupSession(session);
  }
}
