/**
 * gRPC `net.Orchestrator` on the service port: `GetOrchestrator` (on chain the gateway must sign its
 * own checksummed address, docs/spec/orchestrator-gateway.md#orchestratorinfo) and `Ping`.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Address } from "viem";
import { checkPayloadSig, orchestratorRequestPayload } from "../../payments/signature.ts";
import { Orchestrator, PingPongSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import type { OrchestratorContext } from "../context.ts";
import { buildOrchestratorInfo } from "../info.ts";

/** The gRPC routes over `ctx`, for the node server's `grpc` option. */
export function grpcRoutes(ctx: OrchestratorContext): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Orchestrator, {
      getOrchestrator: async (request) => {
        if (ctx.gate) {
          const addr = `0x${Buffer.from(request.address).toString("hex")}` as Address;
          const sig = `0x${Buffer.from(request.sig).toString("hex")}` as `0x${string}`;
          const ok =
            request.address.length === 20 &&
            (await checkPayloadSig(addr, orchestratorRequestPayload(addr), sig)).valid;
          if (!ok)
            throw new ConnectError(
              "Invalid orchestrator request: orchestrator req sig check failed",
              Code.InvalidArgument,
            );
        }
        return buildOrchestratorInfo(ctx.info, request);
      },
      ping: (request) => create(PingPongSchema, { value: request.value }),
    });
  };
}
