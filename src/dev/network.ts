/**
 * The one-command local network (`tributary dev`): a devnet chain with the contracts deployed and the
 * accounts funded (unless offchain), an orchestrator, the two example containers, and a gateway with
 * its dashboard, all in this process except anvil.
 *
 * What runs where:
 * - anvil: a child process (it is a separate binary), under the watchdog of `src/chain/anvil.ts`, so it
 *   dies with this process even on SIGKILL.
 * - everything else in process (fastest start, one process tree): the orchestrator (`startOrchestrator`,
 *   with `startOnchainPayments` on devnet), the containers (`startRunner` over `examples/text-reverse`
 *   and `examples/green-tint` on ephemeral loopback ports), the gateway (`startGateway`, dashboard at
 *   `/dashboard`). Isolation does not matter for a development network; a container that crashes the
 *   process takes the whole network down, which is what a developer wants to see.
 *
 * Capabilities: `text-reverse` registers itself through the BYOC API (`POST /capability/register` with
 * the orchestrator secret, re-registering every 5 minutes as a real container does), so the orchestrator
 * offers BYOC capability `text-reverse`; green-tint is an aiModels entry `live-video-to-video/green-tint`.
 *
 * On devnet the gateway signs its requests and pays with tickets from the funded gateway account
 * (`startGatewayOnchain`), text-reverse is priced ({@link TEXT_REVERSE_DEVNET_PRICE} wei per
 * second) and green-tint ({@link GREEN_TINT_DEVNET_PRICE_PER_PIXEL} wei per pixel), so every job and
 * stream carries real tickets that the orchestrator validates and redeems on anvil.
 * The orchestrator registers its service URI in the service registries once it listens, and the
 * gateway discovers it on chain (active pool by stake, URI from the AI Service Registry); offchain the
 * gateway is given the orchestrator's address.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import type { Devnet } from "../chain/devnet.ts";
import { DEFAULT_GATEWAY_PORT } from "../gateway/index.ts";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { parseAiModels } from "../orchestrator/config.ts";
import { startOnchainPayments } from "../orchestrator/onchain.ts";
import {
  DEFAULT_SERVICE_PORT,
  type RunningOrchestrator,
  startOrchestrator,
} from "../orchestrator/orchestrator.ts";
import { signPayload } from "../payments/signature.ts";
import { startRegistration } from "../runner/registration.ts";
import { registerServiceUri, startDevChain } from "./chain.ts";
import {
  GREEN_TINT_DEVNET_PRICE_PER_PIXEL,
  GREEN_TINT_MODEL,
  GREEN_TINT_PIPELINE,
  TEXT_REVERSE_CAPABILITY,
  TEXT_REVERSE_DEVNET_PRICE,
} from "./constants.ts";
import { containerReady, startDevContainers } from "./containers.ts";
import { type DevRemoteSigner, startDevRemoteSigner } from "./remote-signer.ts";
import { samplePayment } from "./sample-payment.ts";
import { Supervisor, type SupervisorEvent } from "./supervisor.ts";

export * from "./constants.ts";

/** Options of {@link startDevNetwork}. */
export interface DevNetworkOptions {
  /** Skip the chain: the orchestrator runs offchain (no payments). */
  offchain?: boolean;
  /** Data directory; default a fresh temporary directory (removed at stop). */
  dataDir?: string;
  /** Use `~/.tributary/dev` (kept) when no `dataDir` is given. */
  persist?: boolean;
  /** Interface every component binds; default 127.0.0.1. */
  host?: string;
  /** Ports; 0 picks a free one. Defaults DEFAULT_SERVICE_PORT / DEFAULT_GATEWAY_PORT / DEFAULT_CHAIN_PORT. */
  orchestratorPort?: number;
  gatewayPort?: number;
  chainPort?: number;
  /** Start the gateway; default true. */
  gateway?: boolean;
  /**
   * Devnet: run the gateway and a remote signer split (`tributary signer` holds the funded gateway
   * account on `<dataDir>/signer`; the gateway pays through it with a bearer token and holds no key,
   * finding the orchestrator by address). Default false.
   */
  remoteSigner?: boolean;
  /** Component log lines (pino); default silent. */
  logger?: Logger;
  onEvent?: (event: SupervisorEvent) => void;
  /**
   * `performance.now()` value the ready time is counted from; default the call of
   * {@link startDevNetwork}. The CLI passes 0: the time since the process started.
   */
  startedAt?: number;
  /** Longest wait for a container to be ready at the orchestrator; default 15 s. */
  readyTimeoutMs?: number;
}

/** An account shown in the summary (anvil's deterministic development keys: never real funds). */
export interface DevAccountSummary {
  role: string;
  address: string;
  privateKey: string;
}

/** What the network is, as printed and as `--json`. */
export interface DevNetworkSummary {
  mode: "offchain" | "devnet";
  /** Time to ready in ms (from `startedAt`). */
  readyMs: number;
  dataDir: string;
  /**
   * The gateway: its URL, the dashboard, the live page (`live`: publish a browser camera, watch the
   * output) and a WHIP URL on green-tint for OBS or any WHIP client (`whip`).
   */
  gateway?: { url: string; dashboard: string; live?: string; whip?: string };
  /** With `remoteSigner`: the signer the gateway pays through, and the bearer token it sends. */
  signer?: { url: string; address: string; token: string };
  orchestrator: { url: string; secret: string };
  chain?: { rpcUrl: string; chainId: number; contracts: Record<string, string> };
  accounts: DevAccountSummary[];
  containers: { name: string; url: string; capability: string }[];
  /** `Livepeer-Eth-Address` header of the gateway account (for `GET /process/token` on devnet). */
  signedEthAddressHeader?: string;
  /** Devnet: a real (never sent) `Livepeer-Payment` header of one ticket, for `tributary payment decode`. */
  samplePaymentHeader?: string;
  /** Process ids of child processes (anvil), for checks that nothing is left. */
  childPids: number[];
}

/** A running local network. */
export interface DevNetwork extends AsyncDisposable {
  readonly summary: DevNetworkSummary;
  /** Resolves with the first runtime failure of a component. */
  readonly failed: Promise<Error>;
  /** Stops everything in reverse order. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the network and resolves once every component is healthy. On a failure, what was started is
 * stopped (reverse order) before the error (a `ComponentError` naming the component) is thrown.
 */
export async function startDevNetwork(options: DevNetworkOptions = {}): Promise<DevNetwork> {
  const t0 = options.startedAt ?? performance.now();
  const host = options.host ?? "127.0.0.1";
  const log = options.logger ?? silentLogger();
  const offchain = options.offchain ?? false;
  const withGateway = options.gateway ?? true;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const sup = new Supervisor({
    total:
      (offchain ? 0 : 1) +
      3 +
      (withGateway ? 1 : 0) +
      (withGateway && !offchain && options.remoteSigner ? 1 : 0),
    onEvent: options.onEvent,
  });
  const tempDir = options.dataDir === undefined && !options.persist;
  const dataDir =
    options.dataDir ??
    (options.persist ? join(homedir(), ".tributary", "dev") : mkdtempSync(join(tmpdir(), "tributary-dev-")));
  const summary: DevNetworkSummary = {
    mode: offchain ? "offchain" : "devnet",
    readyMs: 0,
    dataDir,
    orchestrator: { url: "", secret: "" },
    accounts: [],
    containers: [],
    childPids: [],
  };
  const stop = async (): Promise<void> => {
    await sup.stop();
    if (tempDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    mkdirSync(dataDir, { recursive: true });
    let devnet: Devnet | undefined;
    if (!offchain) {
      devnet = await sup.start("chain (anvil + contracts)", (signal) =>
        startDevChain(sup, { host, port: options.chainPort, log }, signal),
      );
      if (devnet.anvil.pid !== undefined) summary.childPids.push(devnet.anvil.pid);
      summary.chain = { rpcUrl: devnet.rpcUrl, chainId: devnet.chainId, contracts: { ...devnet.contracts } };
      summary.accounts = [
        { role: "deployer (Controller owner)", ...devnet.accounts.deployer },
        { role: "gateway (ticket sender, 1 ETH deposit + 1 ETH reserve)", ...devnet.accounts.gateway },
        { role: "orchestrator (ticket recipient, staked)", ...devnet.accounts.orchestrator },
      ];
    }

    const containers = await sup.start("containers (text-reverse, green-tint)", () =>
      startDevContainers(host, log),
    );
    summary.containers = [
      {
        name: "text-reverse",
        url: containers.textReverse.url,
        capability: `byoc/${TEXT_REVERSE_CAPABILITY}`,
      },
      {
        name: "green-tint",
        url: containers.greenTint.url,
        capability: `${GREEN_TINT_PIPELINE}/${GREEN_TINT_MODEL}`,
      },
    ];

    const orchSecret = `dev-${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex")}`;
    const orch = await sup.start(
      `orchestrator (${offchain ? "offchain" : "devnet, payments on"})`,
      async () => {
        const orchDir = join(dataDir, "orchestrator");
        const onchain = devnet
          ? await startOnchainPayments({
              network: "devnet",
              ethUrl: devnet.rpcUrl,
              privateKey: devnet.accounts.orchestrator.privateKey,
              contracts: devnet.contracts,
              dataDir: orchDir,
              logger: log,
            })
          : undefined;
        let running: RunningOrchestrator;
        try {
          running = await startOrchestrator({
            host,
            port: options.orchestratorPort ?? DEFAULT_SERVICE_PORT,
            ...(onchain
              ? { payments: onchain.gate, address: onchain.address, network: "devnet" as const }
              : {}),
            models: parseAiModels(
              JSON.stringify([
                {
                  pipeline: GREEN_TINT_PIPELINE,
                  model_id: GREEN_TINT_MODEL,
                  url: containers.greenTint.url,
                  warm: true,
                  ...(devnet ? { price_per_unit: Number(GREEN_TINT_DEVNET_PRICE_PER_PIXEL) } : {}),
                },
              ]),
              "tributary dev",
            ),
            orchSecret,
            dataDir: orchDir,
            logger: log,
          });
        } catch (err) {
          await onchain?.close();
          throw err;
        }
        if (devnet) {
          // Advertise the real service URI on chain, where the gateway discovers orchestrators.
          try {
            await registerServiceUri(devnet, running.serviceUri);
          } catch (err) {
            await running.close();
            await onchain?.close();
            throw err;
          }
        }
        return {
          value: running,
          detail: running.url,
          stop: async () => {
            await running.close();
            await onchain?.close();
          },
        };
      },
    );
    summary.orchestrator = { url: orch.url, secret: orchSecret };

    await sup.start("capabilities (byoc/text-reverse, live-video-to-video/green-tint)", async (signal) => {
      const registration = startRegistration(
        {
          orchUrl: orch.url,
          orchSecret,
          name: TEXT_REVERSE_CAPABILITY,
          description: "examples/text-reverse: reverses text by grapheme clusters",
          url: containers.textReverse.url,
          capacity: 4,
          // Priced on devnet so that jobs carry real tickets (wei per second of compute).
          pricePerUnit: devnet ? TEXT_REVERSE_DEVNET_PRICE : 0n,
          priceScaling: 1n,
          currency: "",
          token: "",
        },
        { logger: log, retryDelayMs: 100, maxRetryDelayMs: 1000 },
      );
      try {
        if (!(await registration.registered))
          throw new TributaryError("DEV_NETWORK_FAILED", "text-reverse could not register (see the log)", {
            status: 500,
          });
        await Promise.all([
          containerReady(orch, containers.textReverse.url, readyTimeoutMs, signal),
          containerReady(orch, containers.greenTint.url, readyTimeoutMs, signal),
        ]);
      } catch (err) {
        await registration.stop();
        throw err;
      }
      return { value: registration, stop: () => registration.stop() };
    });

    if (devnet) {
      const account = privateKeyToAccount(devnet.accounts.gateway.privateKey);
      summary.signedEthAddressHeader = Buffer.from(
        JSON.stringify({ addr: account.address, sig: await signPayload(account, account.address) }),
      ).toString("base64");
    }

    let remote: DevRemoteSigner | undefined;
    if (withGateway && devnet && options.remoteSigner) {
      const chain = devnet;
      remote = await sup.start("remote signer (holds the gateway account)", () =>
        startDevRemoteSigner(chain, { host, dataDir, log }),
      );
      summary.signer = { url: remote.signer.url, address: remote.signer.address, token: remote.token };
    }

    if (withGateway) {
      const gateway = await sup.start("gateway + dashboard", async (signal) => {
        const { startGateway } = await import("../gateway/gateway.ts");
        const { startGatewayOnchain } = await import("../gateway/onchain.ts");
        // On devnet the gateway signs its requests and pays with tickets from the funded gateway
        // account, itself or (split) through the remote signer that holds it.
        const onchain =
          devnet && !remote
            ? await startGatewayOnchain({
                network: "devnet",
                ethUrl: devnet.rpcUrl,
                privateKey: devnet.accounts.gateway.privateKey,
                contracts: devnet.contracts,
                logger: log,
              })
            : undefined;
        let gw: Awaited<ReturnType<typeof startGateway>>;
        try {
          gw = await startGateway({
            host,
            port: options.gatewayPort ?? DEFAULT_GATEWAY_PORT,
            // Devnet: discovered on chain (active pool + AI Service Registry); offchain: by address.
            // A keyless gateway (split from its signer) has no chain client: by address too.
            discovery: onchain ? { chain: onchain.chainSource } : { orchAddr: [orch.url] },
            ...(onchain ? { payments: onchain.payments } : {}),
            ...(remote ? { remoteSigner: remote.client } : {}),
            historyDir: join(dataDir, "gateway"),
            logger: log,
            signal,
          });
        } catch (err) {
          await onchain?.close();
          throw err;
        }
        const close = async () => {
          await gw.close();
          await onchain?.close();
        };
        let known: unknown[];
        try {
          known = await gw.pool.current(signal);
          if (known.length === 0)
            throw new TributaryError(
              "DEV_NETWORK_FAILED",
              `the gateway cannot use the orchestrator at ${orch.url} (--log-level debug tells why)`,
              { status: 500 },
            );
        } catch (err) {
          await close();
          throw err;
        }
        return {
          value: { gw, onchain },
          detail: `${gw.url}/dashboard${onchain ? `, orchestrator found on chain, paying as ${onchain.address}` : ""}${remote ? `, paying through the signer as ${remote.client.address}` : ""}`,
          stop: close,
        };
      });
      summary.gateway = {
        url: gateway.gw.url,
        dashboard: `${gateway.gw.url}/dashboard`,
        live: `${gateway.gw.url}/live`,
        whip: `${gateway.gw.url}/live/video-to-video/obs/whip?pipeline=${GREEN_TINT_MODEL}`,
      };
      if (gateway.onchain && summary.signedEthAddressHeader) {
        // One real ticket (never sent) for `tributary payment decode`: it shows what the gateway pays with.
        try {
          summary.samplePaymentHeader = await samplePayment(
            orch.url,
            summary.signedEthAddressHeader,
            gateway.onchain.payments.sender,
          );
        } catch (err) {
          log.warn({ err }, "could not make a sample Livepeer-Payment header");
        }
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  summary.readyMs = Math.round(performance.now() - t0);
  return {
    summary,
    failed: sup.failed,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
