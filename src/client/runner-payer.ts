/**
 * Paying a live runner session from the job client: the shared payer pieces
 * (src/payments/runner-payer.ts: the 402 challenge, {@link ticketPayer}, the top-up loop) with their
 * errors as {@link GatewayError}s, and {@link remoteSignerPayer}, the payer over a remote signer
 * (`tributary signer`, go-livepeer `-remoteSigner`) reached with `fetch`: `POST /sign-orchestrator-info`
 * once for the address, then `POST /generate-live-payment` per payment (the state answered sent back
 * on the manifest's next one; the signer decides how many tickets: for `live` 10 s first, then the
 * time since its last payment).
 */
import { TributaryError } from "../node/errors.ts";
import type { RunnerPayer, RunnerPaymentType } from "../payments/runner-payer.ts";
import * as shared from "../payments/runner-payer.ts";
import type { Sender } from "../payments/sender.ts";
import type { MessageSigner } from "../payments/signature.ts";
import type { OrchestratorInfo } from "../protocol/gen/lp_rpc_pb.ts";
import { GatewayError, gatewayErrorOf, gatewayFetch } from "./job.ts";

export {
  PAYER_ADDRESS_HEADER,
  paymentTypeOfUnit,
  type RunnerChallenge,
  type RunnerPayer,
  type RunnerPaymentType,
  refreshPaymentParams,
  ticketsFor,
} from "../payments/runner-payer.ts";

/** A TributaryError of the shared payer code as the client's GatewayError (same code and status). */
export function asGatewayError(err: unknown): unknown {
  return err instanceof TributaryError && !(err instanceof GatewayError)
    ? new GatewayError(err.code, err.message, err.status, err)
    : err;
}

/** Reads a 402 answer's body into a challenge; 402 `PAYMENT_REQUIRED` GatewayError when it is not one. */
export function parseRunnerChallenge(text: string): shared.RunnerChallenge {
  try {
    return shared.parseRunnerChallenge(text);
  } catch (err) {
    throw asGatewayError(err);
  }
}

/** Decodes a challenge's (or top-up answer's) base64 `OrchestratorInfo`. */
export function decodePaymentParams(paymentParams: string): OrchestratorInfo {
  try {
    return shared.decodePaymentParams(paymentParams);
  } catch (err) {
    throw asGatewayError(err);
  }
}

/** `payer` whose failures are GatewayErrors. */
function clientPayer(payer: RunnerPayer): RunnerPayer {
  return {
    address: payer.address,
    pay: (params, manifest, seconds) =>
      payer.pay(params, manifest, seconds).catch((err: unknown) => {
        throw asGatewayError(err);
      }),
    ...(payer.end && { end: (manifest: string) => payer.end?.(manifest) }),
  };
}

/** A {@link RunnerPayer} over a local key: tickets from `sender` (whose signer is `signer`). */
export function ticketPayer(sender: Sender, signer: MessageSigner): RunnerPayer {
  return clientPayer(shared.ticketPayer(sender, signer));
}

/** The signer's status for "no tickets needed this cycle". */
const HTTP_NO_TICKETS = 482;

/** Options of {@link remoteSignerPayer}. */
export interface RemoteSignerPayerOptions {
  /** Headers of every signer call (e.g. `Authorization: Bearer …`). */
  headers?: Record<string, string>;
  /** The payment type: `live` (priced per second or hour, the default), `lv2v` (720p units) or `fixed`. */
  type?: RunnerPaymentType;
}

/** A {@link RunnerPayer} over a remote signer at `signerUrl`; asks its address first. */
export async function remoteSignerPayer(
  signerUrl: string,
  options: RemoteSignerPayerOptions = {},
): Promise<RunnerPayer> {
  const origin = new URL(signerUrl).origin;
  const headers = { "content-type": "application/json", ...options.headers };
  const post = async (path: string, body: unknown): Promise<Response> =>
    gatewayFetch(
      `${origin}${path}`,
      { method: "POST", headers, body: JSON.stringify(body) },
      `remote signer ${path}`,
    );
  const info = await post("/sign-orchestrator-info", {});
  if (info.status !== 200) throw await gatewayErrorOf(info, "remote signer /sign-orchestrator-info");
  const { address } = (await info.json()) as { address?: unknown };
  if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address))
    throw new GatewayError(
      "BAD_GATEWAY_ANSWER",
      "remote signer /sign-orchestrator-info answered no address",
      502,
    );
  const generate: shared.GenerateLivePayment = async (body) => {
    const res = await post("/generate-live-payment", body);
    if (res.status === HTTP_NO_TICKETS) {
      await res.body?.cancel();
      return "no-tickets";
    }
    if (res.status !== 200) throw await gatewayErrorOf(res, "remote signer /generate-live-payment");
    return (await res.json()) as { payment: unknown; segCreds: unknown; state?: unknown };
  };
  return clientPayer(shared.signerPayer(address as `0x${string}`, generate, options.type ?? "live"));
}
