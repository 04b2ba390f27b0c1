/**
 * The devnet fixture of the on-chain suites: anvil with our contracts deployed, the gateway account
 * optionally funded on the TicketBroker, a temporary data directory, and everything the test starts
 * on it torn down in reverse order when the fixture is disposed:
 *
 *   await using net = await devnetFixture({ fundGateway: { deposit, reserve } });
 *   const orch = net.use(await startOrchestrator({ ... }));
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createChainClients,
  createRedeemerChain,
  type Devnet,
  fundSender,
  type SigningChainClients,
  startDevnet,
} from "../src/chain/index.ts";
import { type GatewayOnchain, startGatewayOnchain } from "../src/gateway/onchain.ts";
import { type OnchainPayments, startOnchainPayments } from "../src/orchestrator/onchain.ts";
import type { RedeemerChain } from "../src/payments/redeemer.ts";

export interface DevnetFixtureOptions {
  /** Blocks per round; default the devnet's. */
  roundLength?: number;
  /** Deposit and reserve the gateway account funds on the TicketBroker before the test; default none. */
  fundGateway?: { deposit: bigint; reserve: bigint };
}

type Role = "gateway" | "orchestrator" | "deployer";

export interface DevnetFixture extends AsyncDisposable {
  devnet: Devnet;
  /** A temporary directory, removed at teardown. */
  dir: string;
  /** Signing clients of one of the devnet's accounts. */
  clients(role: Role): SigningChainClients;
  /** Registers `resource` for teardown (the last registered is disposed first) and returns it. */
  use<T extends AsyncDisposable | Disposable>(resource: T): T;
  /** Registers a teardown step, run in the same reverse order. */
  defer(onDispose: () => PromiseLike<void> | void): void;
  /** The redeemer's chain calls, as the devnet's orchestrator. */
  redeemerChain(): RedeemerChain;
  /** The orchestrator's on-chain payment path (chain facts, recipient, redeemer) on `dir`, torn down with the fixture. */
  orchestratorPayments(options: { ticketEV: bigint; maxFaceValue?: bigint }): Promise<OnchainPayments>;
  /** The gateway's on-chain Sender on the devnet's gateway account, torn down with the fixture. */
  gatewayPayments(options: { maxTicketEV: bigint; maxTotalEV: bigint }): Promise<GatewayOnchain>;
}

/** Starts the devnet; on a failure part way, what was started is stopped before rethrowing. */
export async function devnetFixture(options: DevnetFixtureOptions = {}): Promise<DevnetFixture> {
  await using stack = new AsyncDisposableStack();
  const dir = mkdtempSync(join(tmpdir(), "tributary-devnet-"));
  stack.defer(() => rmSync(dir, { recursive: true, force: true }));
  const devnet = stack.use(
    await startDevnet(options.roundLength === undefined ? {} : { roundLength: options.roundLength }),
  );
  const clients = (role: Role) =>
    createChainClients({
      rpcUrl: devnet.rpcUrl,
      chainId: devnet.chainId,
      privateKey: devnet.accounts[role].privateKey,
    });
  if (options.fundGateway)
    await fundSender(clients("gateway"), devnet.contracts.ticketBroker, options.fundGateway);

  const owned = stack.move();
  const use = <T extends AsyncDisposable | Disposable>(resource: T): T => owned.use(resource);
  return {
    devnet,
    dir,
    clients,
    use,
    defer: (onDispose) => owned.defer(onDispose),
    redeemerChain: () =>
      createRedeemerChain({
        clients: clients("orchestrator"),
        ticketBroker: devnet.contracts.ticketBroker,
        roundsManager: devnet.contracts.roundsManager,
        bondingManager: devnet.contracts.bondingManager,
      }),
    orchestratorPayments: async (o) =>
      use(
        await startOnchainPayments({
          network: "devnet",
          ethUrl: devnet.rpcUrl,
          privateKey: devnet.accounts.orchestrator.privateKey,
          dataDir: dir,
          contracts: devnet.contracts,
          ...o,
        }),
      ),
    gatewayPayments: async (o) =>
      use(
        await startGatewayOnchain({
          network: "devnet",
          ethUrl: devnet.rpcUrl,
          privateKey: devnet.accounts.gateway.privateKey,
          contracts: devnet.contracts,
          ...o,
        }),
      ),
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}
