/**
 * Helpers shared by the fault-injection suites: a TCP proxy that can cut and restore a connection
 * path (the chain RPC), HTTPS calls to an orchestrator by URL (it may be a child process), and one
 * paid BYOC job made with our Sender.
 */
import { request as httpsRequest } from "node:https";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { type Hex, keccak256, stringToBytes } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import type { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import { ticketHash, ticketsOfPayment } from "../../src/payments/ticket.ts";
import type { PriceInfo } from "../../src/payments/types.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import {
  parseJsonBig,
  priceInfoFromGoJson,
  ticketParamsFromGoJson,
} from "../../src/protocol/ticket-params-json.ts";

/**
 * A TCP proxy on 127.0.0.1 in front of `target`; {@link TcpProxy.cut} makes the path go away,
 * {@link TcpProxy.hang} makes it silent.
 */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Destroys every proxied connection and resets new ones until {@link TcpProxy.restore}. */
  cut(): void;
  /**
   * Destroys every proxied connection; new ones are accepted and read but never answered (an RPC
   * that hangs) until {@link TcpProxy.restore}, which resets them.
   */
  hang(): void;
  restore(): void;
  /** Connections reset (cut) or left unanswered (hang). */
  readonly refused: number;
  close(): Promise<void>;
}

/** Starts a TCP proxy to `targetPort` on 127.0.0.1. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const live = new Set<Socket>();
  const silent = new Set<Socket>();
  let mode: "open" | "cut" | "hang" = "open";
  let refused = 0;
  const server: Server = createServer((client) => {
    if (mode === "cut") {
      refused++;
      client.resetAndDestroy();
      return;
    }
    if (mode === "hang") {
      refused++;
      silent.add(client);
      client.on("error", () => {}).on("close", () => silent.delete(client));
      client.resume();
      return;
    }
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    live.add(client);
    live.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const dropAll = (): void => {
    for (const s of [...live, ...silent]) s.destroy();
    live.clear();
    silent.clear();
  };
  const close = async (): Promise<void> => {
    dropAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut() {
      mode = "cut";
      dropAll();
    },
    hang() {
      mode = "hang";
      dropAll();
    },
    restore() {
      mode = "open";
      dropAll();
    },
    get refused() {
      return refused;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An HTTPS answer, read whole. */
export interface HttpsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to an orchestrator at `base` (self-signed certificate not checked), fresh connection. */
export function httpsCall(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${base}${path}`,
      { method: init.method ?? "GET", headers: init.headers, rejectUnauthorized: false, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.setTimeout(init.timeoutMs ?? 30_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(init.body);
  });
}

/** A gateway's payment session with one orchestrator for one BYOC capability. */
export interface PaidSession {
  session: string;
  price: PriceInfo;
  /** The block after which the session's ticket params expire. */
  expirationBlock: bigint;
}

/** `GET /process/token` with a signed `Livepeer-Eth-Address`, then a Sender session on its ticket params. */
export async function openPaidSession(
  base: string,
  gateway: PrivateKeyAccount,
  sender: Sender,
  capability: string,
): Promise<PaidSession> {
  const sig = await signPayload(gateway, gateway.address);
  const res = await httpsCall(base, "/process/token", {
    headers: {
      "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: gateway.address, sig })).toString("base64"),
      "livepeer-capability": capability,
    },
  });
  if (res.status !== 200) throw new Error(`/process/token answered ${res.status}: ${res.body}`);
  const token = parseJsonBig(res.body) as { ticket_params: unknown; price: unknown };
  const params = ticketParamsFromGoJson(token.ticket_params);
  return {
    session: sender.startSession(params),
    price: priceInfoFromGoJson(token.price),
    expirationBlock: params.expirationBlock,
  };
}

/** What one paid job did. */
export interface PaidJobResult {
  status: number;
  body: string;
  /** Hashes of the tickets the job carried. */
  tickets: Hex[];
  /** Sum of their face values. */
  faceValue: bigint;
  /** The `Livepeer-Balance` answer header (wei), when present. */
  balance: bigint | undefined;
}

/** A signed, paid BYOC job ready to send (tickets already signed, so sending it is one request). */
export interface PreparedPaidJob {
  headers: Record<string, string>;
  /** Hashes of the tickets the job carries. */
  tickets: Hex[];
  /** Sum of their face values. */
  faceValue: bigint;
}

/** Signs the job header and `tickets` new tickets of `s` for `/process/request/<capability>`. */
export async function preparePaidJob(
  gateway: PrivateKeyAccount,
  sender: Sender,
  s: PaidSession,
  capability: string,
  tickets = 1,
): Promise<PreparedPaidJob> {
  const payment = await sender.createPayment(s.session, tickets, s.price);
  const request = "{}";
  const parameters = "{}";
  const jobSig = await gateway.signMessage({
    message: { raw: keccak256(stringToBytes(request + parameters)) },
  });
  const header = Buffer.from(
    JSON.stringify({
      request,
      parameters,
      capability,
      timeout_seconds: 30,
      sender: gateway.address,
      sig: jobSig,
    }),
  ).toString("base64");
  const sent = ticketsOfPayment(payment);
  return {
    headers: {
      livepeer: header,
      "livepeer-payment": encodePaymentHeader(payment),
      "content-type": "application/json",
    },
    tickets: sent.map((t) => ticketHash(t)),
    faceValue: sent.reduce((sum, t) => sum + t.faceValue, 0n),
  };
}

/** One BYOC job to `/process/request/<capability>` carrying `tickets` new tickets of `s`. */
export async function paidJob(
  base: string,
  gateway: PrivateKeyAccount,
  sender: Sender,
  s: PaidSession,
  capability: string,
  input: unknown,
  tickets = 1,
): Promise<PaidJobResult> {
  const job = await preparePaidJob(gateway, sender, s, capability, tickets);
  const res = await httpsCall(base, `/process/request/${capability}`, {
    method: "POST",
    headers: job.headers,
    body: JSON.stringify(input),
  });
  return {
    status: res.status,
    body: res.body,
    tickets: job.tickets,
    faceValue: job.faceValue,
    balance:
      typeof res.headers["livepeer-balance"] === "string"
        ? BigInt(res.headers["livepeer-balance"])
        : undefined,
  };
}
