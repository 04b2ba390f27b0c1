/**
 * gRPC `Orchestrator.GetOrchestrator` over HTTP/2 + TLS with @connectrpc/connect-node (docs/spec/orchestrator-gateway.md#grpc-service).
 * Like go-livepeer's gateway, certificates are not verified by default (orchestrators serve
 * self-signed certificates, docs/spec/orchestrator-gateway.md#service-port-and-tls); one HTTP/2 connection per orchestrator origin is reused.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { TributaryError } from "../../node/errors.ts";
import {
  Orchestrator,
  type OrchestratorInfo,
  type OrchestratorRequest,
} from "../../protocol/gen/lp_rpc_pb.ts";

/** Connect timeout of a gRPC dial (go-livepeer `GRPCConnectTimeout`, 3 s). */
export const GRPC_CONNECT_TIMEOUT_MS = 3_000;
/** Per-call deadline when none is given (go-livepeer `GRPCTimeout`, 8 s). */
export const GRPC_CALL_TIMEOUT_MS = 8_000;

/** Options of one `GetOrchestrator` call. */
export interface GetOrchestratorCallOptions {
  signal?: AbortSignal;
  /** Deadline in ms; default {@link GRPC_CALL_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Asks one orchestrator for its `OrchestratorInfo`. The pool only depends on this function type, so
 * tests can pass a fake. Rejects with {@link OrchestratorRequestError}.
 */
export type OrchestratorInfoFetcher = (
  url: string,
  request: OrchestratorRequest,
  options?: GetOrchestratorCallOptions,
) => Promise<OrchestratorInfo>;

/** A `GetOrchestrator` call failed: unreachable, timed out, or the orchestrator refused. Answers 502. */
export class OrchestratorRequestError extends TributaryError {
  /** The gRPC status code name (`unavailable`, `deadline_exceeded`, `unknown`, …). */
  readonly grpcCode: string;
  constructor(url: string, grpcCode: string, message: string, cause?: unknown) {
    super("ORCHESTRATOR_REQUEST_FAILED", `GetOrchestrator ${url} failed (${grpcCode}): ${message}`, {
      status: 502,
      cause,
      details: { orchestrator: url, grpcCode },
    });
    this.grpcCode = grpcCode;
  }
}

/** Options of {@link createGrpcOrchestratorClient}. */
export interface GrpcOrchestratorClientOptions {
  /** Verify the orchestrator's certificate; default false (as go-livepeer). */
  rejectUnauthorized?: boolean;
  /** Extra trusted CA certificates (PEM), when verifying. */
  ca?: string | string[];
  /** Connection (incl. TLS) timeout in ms; default {@link GRPC_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Close a connection idle this long, in ms; default 5 min. */
  idleConnectionTimeoutMs?: number;
}

/** A gRPC client for many orchestrators; disposing closes every connection. */
export interface GrpcOrchestratorClient extends AsyncDisposable {
  getOrchestrator: OrchestratorInfoFetcher;
  /** Closes every connection; later calls open new ones. */
  close(): void;
}

/** Creates the client. Each orchestrator origin gets one HTTP/2 session, opened on first use. */
export function createGrpcOrchestratorClient(
  options: GrpcOrchestratorClientOptions = {},
): GrpcOrchestratorClient {
  const sessions = new Map<string, { manager: Http2SessionManager; call: ReturnType<typeof makeClient> }>();
  function makeClient(origin: string, manager: Http2SessionManager) {
    const transport = createGrpcTransport({ baseUrl: origin, sessionManager: manager });
    return createClient(Orchestrator, transport);
  }
  const clientFor = (url: string) => {
    const origin = new URL(url).origin;
    let s = sessions.get(origin);
    if (s === undefined) {
      const manager = new Http2SessionManager(
        origin,
        {
          connectTimeoutMs: options.connectTimeoutMs ?? GRPC_CONNECT_TIMEOUT_MS,
          idleConnectionTimeoutMs: options.idleConnectionTimeoutMs ?? 5 * 60_000,
        },
        { rejectUnauthorized: options.rejectUnauthorized ?? false, ca: options.ca },
      );
      s = { manager, call: makeClient(origin, manager) };
      sessions.set(origin, s);
    }
    return s.call;
  };

  const getOrchestrator: OrchestratorInfoFetcher = async (url, request, callOptions = {}) => {
    try {
      return await clientFor(url).getOrchestrator(request, {
        signal: callOptions.signal,
        timeoutMs: callOptions.timeoutMs ?? GRPC_CALL_TIMEOUT_MS,
      });
    } catch (err) {
      if (callOptions.signal?.aborted) throw callOptions.signal.reason;
      const ce = ConnectError.from(err);
      const code = (Code[ce.code] ?? "unknown").replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
      throw new OrchestratorRequestError(url, code, ce.rawMessage, err);
    }
  };

  const close = () => {
    for (const s of sessions.values()) s.manager.abort();
    sessions.clear();
  };
  return { getOrchestrator, close, [Symbol.asyncDispose]: async () => close() };
}
