/**
 * `OrchestratorRequest` as a gateway sends it (docs/spec/orchestrator-gateway.md#orchestratorinfo, #ai-batch-request-end-to-end step 1; go-livepeer
 * `genOrchestratorReq`): `address` = the gateway's 20-byte address, `sig` = the cached
 * `personal_sign(keccak256(utf8(EIP-55 address)))` (`node.InfoSig`), plus the job's capabilities.
 */
import { create } from "@bufbuild/protobuf";
import { type Address, hexToBytes } from "viem";
import { type MessageSigner, orchestratorRequestPayload, signPayload } from "../../payments/signature.ts";
import {
  type Capabilities,
  type OrchestratorRequest,
  OrchestratorRequestSchema,
} from "../../protocol/gen/lp_rpc_pb.ts";

/** The `address` and `sig` fields of every request a gateway sends. */
export interface RequestCredentials {
  /** 20 bytes. */
  address: Uint8Array;
  /** 65 bytes on-chain; empty offchain. */
  sig: Uint8Array;
}

/**
 * Offchain credentials: go-livepeer offchain sends the zero address (20 zero bytes) and an empty
 * signature (`broadcaster.Address()`/`OrchInfoSig()` without an Ethereum client).
 */
export const OFFCHAIN_CREDENTIALS: RequestCredentials = Object.freeze({
  address: new Uint8Array(20),
  sig: new Uint8Array(0),
});

/** Signs the gateway's address once (go-livepeer computes `InfoSig` at boot) and returns the credentials. */
export async function signRequestCredentials(signer: MessageSigner): Promise<RequestCredentials> {
  const sig = await signPayload(signer, orchestratorRequestPayload(signer.address));
  return { address: hexToBytes(signer.address as Address), sig: hexToBytes(sig) };
}

/** Options of {@link orchestratorRequest}. */
export interface OrchestratorRequestOptions {
  credentials: RequestCredentials;
  /** The job's capabilities; omit to ask for everything (then `capabilities_prices` is filled, docs/spec/orchestrator-gateway.md#orchestratorinfo). */
  capabilities?: Capabilities;
  ignoreCapacityCheck?: boolean;
}

/** Builds the wire request. */
export function orchestratorRequest(options: OrchestratorRequestOptions): OrchestratorRequest {
  return create(OrchestratorRequestSchema, {
    address: options.credentials.address,
    sig: options.credentials.sig,
    capabilities: options.capabilities,
    ignoreCapacityCheck: options.ignoreCapacityCheck ?? false,
  });
}
