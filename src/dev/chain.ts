/** The dev network's chain: anvil with the contracts deployed, rounds kept initialized, anvil watched. */
import type { Devnet } from "../chain/devnet.ts";
import {
  createChainClients,
  DEFAULT_CHAIN_PORT,
  serviceRegistryAbi,
  startDevnet,
  startRoundInitializer,
} from "../chain/index.ts";
import { TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import type { Started, Supervisor } from "./supervisor.ts";

/** The orchestrator account sets its service URI in both service registries. */
export async function registerServiceUri(devnet: Devnet, uri: string): Promise<void> {
  const o = createChainClients({
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    privateKey: devnet.accounts.orchestrator.privateKey,
  });
  for (const registry of [devnet.contracts.aiServiceRegistry, devnet.contracts.serviceRegistry]) {
    const hash = await o.walletClient.writeContract({
      address: registry,
      abi: serviceRegistryAbi,
      functionName: "setServiceURI",
      args: [uri],
    });
    const receipt = await o.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success")
      throw new TributaryError("DEVNET_DEPLOY_FAILED", `setServiceURI reverted (tx ${hash})`, {
        status: 500,
      });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Starts the devnet chain as a supervised component. `signal` cancels the start only: once running,
 * anvil stops last, in reverse order, so the orchestrator's redeemer and the gateway's chain facts close
 * while the chain still answers. If anvil dies, `sup` is told.
 */
export async function startDevChain(
  sup: Supervisor,
  opts: { host: string; port?: number; log: Logger },
  signal: AbortSignal,
): Promise<Started<Devnet>> {
  const { host, log } = opts;
  const starting = new AbortController();
  const cancel = () => starting.abort();
  signal.addEventListener("abort", cancel, { once: true });
  let d: Devnet;
  try {
    d = await startDevnet({
      gatewayDeposit: 10n ** 18n,
      gatewayReserve: 10n ** 18n,
      anvil: {
        host,
        port: opts.port ?? DEFAULT_CHAIN_PORT,
        blockTime: 1,
        signal: starting.signal,
      },
    });
  } finally {
    signal.removeEventListener("abort", cancel);
  }
  const rounds = new AbortController();
  startRoundInitializer({
    clients: createChainClients({
      rpcUrl: d.rpcUrl,
      chainId: d.chainId,
      privateKey: d.accounts.deployer.privateKey,
    }),
    roundsManager: d.contracts.roundsManager,
    signal: rounds.signal,
    onEvent: (e) => {
      if (e.error !== undefined) log.warn({ err: e.error }, "round initialization failed");
      else log.info({ round: e.round?.toString() }, "round initialized");
    },
  });
  // anvil is the one child process: if it dies, the network is broken; say so and stop.
  const pid = d.anvil.pid;
  const watch = setInterval(() => {
    if (pid !== undefined && !processAlive(pid)) {
      clearInterval(watch);
      sup.fail("chain (anvil)", new Error(`anvil (pid ${pid}) exited`));
    }
  }, 500);
  watch.unref();
  return {
    value: d,
    detail: `${d.rpcUrl}, round ${d.round}`,
    stop: async () => {
      clearInterval(watch);
      rounds.abort();
      await d.stop();
    },
  };
}
