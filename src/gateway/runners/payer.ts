/**
 * Who pays the live runner sessions the gateway reserves for its users: the same key or remote signer
 * that pays its other jobs, as a runner payer of the shared module (src/payments/runner-payer.ts).
 * With a local key every payment is tickets from the gateway's Sender; with `--remote-signer-url`
 * each is one `/generate-live-payment` of the type the runner's price unit asks for (`live`, `lv2v`
 * or `fixed`), through the gateway's signer client (its headers, timeout and typed errors).
 */
import type { Address } from "viem";
import {
  type RunnerPayer,
  type RunnerPaymentType,
  signerPayer,
  ticketPayer,
} from "../../payments/runner-payer.ts";
import type { Sender } from "../../payments/sender.ts";
import type { MessageSigner } from "../../payments/signature.ts";
import type { RemoteSignerClient } from "../remote-signer.ts";

/** The payer of a runner whose price unit maps to `type`. */
export type RunnerPayers = (type: RunnerPaymentType) => RunnerPayer;

/** The gateway's runner payers; undefined when the gateway pays nobody (offchain). */
export function gatewayRunnerPayers(o: {
  payments?: { signer: MessageSigner; sender: Sender };
  remoteSigner?: RemoteSignerClient;
}): RunnerPayers | undefined {
  const remote = o.remoteSigner;
  if (remote !== undefined) {
    const byType = new Map<RunnerPaymentType, RunnerPayer>();
    return (type) => {
      let payer = byType.get(type);
      if (payer === undefined) {
        payer = signerPayer(
          remote.address as Address,
          async (body) => {
            const v = await remote.call("/generate-live-payment", body);
            return v === "no-tickets"
              ? v
              : {
                  payment: v.payment,
                  segCreds: v.segCreds,
                  ...(v.state !== undefined && { state: v.state }),
                };
          },
          type,
        );
        byType.set(type, payer);
      }
      return payer;
    };
  }
  if (o.payments === undefined) return undefined;
  const local = ticketPayer(o.payments.sender, o.payments.signer);
  return () => local;
}
