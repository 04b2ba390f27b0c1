/**
 * Test helpers: a fake gRPC `Orchestrator` server (HTTP/2 over TLS with a throw-away self-signed
 * certificate, as real orchestrators serve) that answers `GetOrchestrator` from a callback. For unit
 * and e2e tests of discovery only; never used by a running node.
 */

import { createSecureServer, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createSelfSignedCertificate } from "../../node/server.ts";
import {
  Orchestrator,
  type OrchestratorInfo,
  OrchestratorInfoSchema,
  type OrchestratorRequest,
} from "../../protocol/gen/lp_rpc_pb.ts";

let material: { cert: string; key: string } | undefined;

/** A self-signed P-256 certificate for 127.0.0.1 and localhost (made once per process). */
export function testCertificate(): { cert: string; key: string } {
  material ??= createSelfSignedCertificate();
  return material;
}

/** What the fake answers: an `OrchestratorInfo` (or its init shape), or a thrown error (e.g. ConnectError). */
export type FakeOrchestratorHandler = (
  request: OrchestratorRequest,
  ctx: { url: string; signal: AbortSignal },
) =>
  | OrchestratorInfo
  | MessageInitShape<typeof OrchestratorInfoSchema>
  | Promise<OrchestratorInfo | MessageInitShape<typeof OrchestratorInfoSchema>>;

/** A running fake orchestrator. */
export interface FakeOrchestrator extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** Every request received, in order. */
  requests: OrchestratorRequest[];
  close(): Promise<void>;
}

/** Starts a fake orchestrator on 127.0.0.1, port 0. */
export async function startFakeOrchestrator(handler: FakeOrchestratorHandler): Promise<FakeOrchestrator> {
  const { cert, key } = testCertificate();
  const requests: OrchestratorRequest[] = [];
  let url = "";
  const adapter = connectNodeAdapter({
    routes(router) {
      router.service(Orchestrator, {
        async getOrchestrator(req, ctx) {
          requests.push(req);
          const out = await handler(req, { url, signal: ctx.signal });
          return create(OrchestratorInfoSchema, out as MessageInitShape<typeof OrchestratorInfoSchema>);
        },
      });
    },
  });
  const server = createSecureServer({ cert, key }, adapter);
  const sessions = new Set<Http2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sessions) s.destroy();
    });
    return closed;
  };
  return { url, requests, close, [Symbol.asyncDispose]: close };
}
