/**
 * `tributary explorer` as a library: an HTTP server with the dashboard page fed by an
 * {@link createExplorerSource} (no pool, no selection, no payments), its JSON views, and go-livepeer's
 * `GET /getNetworkCapabilities` shape from the last probes.
 *
 * Routes: `/dashboard` (the page, `api/state`, `api/explorer`, `api/orchestrators`,
 * `api/capabilities`, `events`), `GET /getNetworkCapabilities`, `GET /` → redirect to the page.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Address, Chain, PublicClient, Transport } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { ContractAddresses } from "../../chain/addresses.ts";
import type { EthUsdSource } from "../../chain/price-feed.ts";
import { errorBody, NotFoundError } from "../../node/errors.ts";
import { sendJson } from "../../node/http/send.ts";
import type { Logger } from "../../node/logger.ts";
import { signPayload } from "../../payments/signature.ts";
import { encodeJobSenderHeader } from "../../protocol/job-header.ts";
import { createDashboard } from "../dashboard/server.ts";
import { createGrpcOrchestratorClient } from "../discovery/grpc-client.ts";
import { OFFCHAIN_CREDENTIALS, signRequestCredentials } from "../discovery/request.ts";
import { RunnerDirectory } from "../discovery/runners.ts";
import { createOrchestratorHttp, readText } from "../orch-http.ts";
import { answerNetworkCapabilities } from "../routes/network-capabilities.ts";
import { readActiveSet } from "./active-set.ts";
import { createExplorerSource, EXPLORER_PROBE_TIMEOUT_MS, type ExplorerSource } from "./source.ts";
import { UsdPerEthCache } from "./usd.ts";
import { explorerViews } from "./views.ts";

/** Options of {@link startExplorer}. */
export interface ExplorerOptions {
  host?: string;
  port: number;
  /** Orchestrators to probe besides (or instead of) the chain's active set. */
  orchestrators?: readonly string[];
  /** Read the active set from this chain. */
  chain?: { publicClient: PublicClient<Transport, Chain | undefined>; contracts: ContractAddresses };
  intervalMs?: number;
  probeTimeoutMs?: number;
  /**
   * The ETH/USD price feed (src/chain/price-feed.ts): prices are then shown in dollars too, read every
   * minute; none while it is stale or unreadable.
   */
  priceFeed?: EthUsdSource;
  logger?: Logger;
}

/** A running explorer. */
export interface RunningExplorer extends AsyncDisposable {
  url: string;
  source: ExplorerSource;
  close(): Promise<void>;
}

/**
 * Starts the explorer. On chain, probes are signed with a throwaway key made at start (orchestrators
 * check the signature, not who signed; nothing is ever paid), offchain with the zero address.
 */
export async function startExplorer(options: ExplorerOptions): Promise<RunningExplorer> {
  const log = options.logger;
  const grpc = createGrpcOrchestratorClient();
  const http = createOrchestratorHttp();
  const account = options.chain ? privateKeyToAccount(generatePrivateKey()) : undefined;
  const credentials = account ? await signRequestCredentials(account) : OFFCHAIN_CREDENTIALS;
  // BYOC free slots are asked as this sender (`Livepeer-Eth-Address`); offchain as the zero address.
  const sender = encodeJobSenderHeader(
    account
      ? { addr: account.address, sig: await signPayload(account, account.address) }
      : { addr: `0x${"0".repeat(40)}`, sig: "" },
  );
  const chain = options.chain;
  const usd =
    options.priceFeed &&
    new UsdPerEthCache(options.priceFeed, {
      onError: (err) =>
        log?.warn({ err }, "the ETH/USD price feed cannot be used; prices are shown in wei only"),
    });
  let source: ExplorerSource | undefined;
  const runners = new RunnerDirectory({
    http,
    orchestrators: () => source?.urls() ?? [],
    timeoutMs: options.probeTimeoutMs ?? EXPLORER_PROBE_TIMEOUT_MS,
  });
  source = createExplorerSource({
    ...(options.orchestrators && { orchestrators: options.orchestrators }),
    ...(chain && {
      activeSet: (signal: AbortSignal) =>
        readActiveSet(
          {
            publicClient: chain.publicClient,
            bondingManager: chain.contracts.bondingManager as Address,
            aiServiceRegistry: chain.contracts.aiServiceRegistry,
            serviceRegistry: chain.contracts.serviceRegistry,
            roundsManager: chain.contracts.roundsManager,
          },
          signal,
        ),
    }),
    fetchInfo: grpc.getOrchestrator,
    credentials,
    byocFree: async (orchestrator, capability, signal) => {
      const res = await http.send(`${orchestrator}/process/token`, {
        method: "GET",
        headers: {
          "livepeer-eth-address": sender,
          "livepeer-capability": capability,
        },
        headersTimeoutMs: options.probeTimeoutMs ?? EXPLORER_PROBE_TIMEOUT_MS,
        signal,
      });
      const text = await readText(res, 256 * 1024);
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      // go-livepeer leaves the field out at 0.
      const n = (JSON.parse(text) as { available_capacity?: unknown }).available_capacity ?? 0;
      if (typeof n !== "number") throw new Error("available_capacity is not a number");
      return n;
    },
    runners,
    ...(options.intervalMs !== undefined && { intervalMs: options.intervalMs }),
    ...(options.probeTimeoutMs !== undefined && { probeTimeoutMs: options.probeTimeoutMs }),
    ...(usd && { usdPerEth: () => usd.read() }),
    onError: (err) => log?.warn({ err }, "explorer could not read the active set; showing the last one"),
  });
  const s = source;
  const dashboard = createDashboard({
    source: s,
    views: explorerViews(() => s.view()),
  });
  const server: Server = createServer((req, res) => {
    if (dashboard.handle(req, res)) return;
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && path === "/getNetworkCapabilities") {
      answerNetworkCapabilities(res, s.descriptors());
      return;
    }
    if (req.method === "GET" && path === "/") {
      res.writeHead(302, { location: "/dashboard/" });
      res.end();
      return;
    }
    const err = new NotFoundError(`no explorer resource at ${path}; the page is at /dashboard`);
    sendJson(res, err.status, errorBody(err));
  });
  const close = async () => {
    usd?.close();
    s.close();
    runners[Symbol.dispose]();
    dashboard.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    grpc.close();
    http.close();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    usd?.close();
    s.close();
    runners[Symbol.dispose]();
    grpc.close();
    http.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return { url: `http://${host}:${addr.port}`, source: s, close, [Symbol.asyncDispose]: close };
}
