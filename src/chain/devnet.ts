/**
 * The Tributary devnet: our own contracts deployed on anvil, with a funded gateway (ticket sender) and
 * an orchestrator (ticket recipient) registered in the active pool with stake, and an initialized round.
 */
import { type Address, getAddress, getContractAddress, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TributaryError } from "../node/errors.ts";
import { CONTRACT_IDS, type ContractAddresses } from "./addresses.ts";
import { type Anvil, type AnvilOptions, startAnvil } from "./anvil.ts";
import {
  type ChainClients,
  createChainClients,
  DEVNET_CHAIN_ID,
  type SigningChainClients,
} from "./clients.ts";
import {
  bondingManagerAbi,
  bondingManagerBytecode,
  controllerAbi,
  controllerBytecode,
  priceFeedAbi,
  priceFeedBytecode,
  roundsManagerAbi,
  roundsManagerBytecode,
  serviceRegistryAbi,
  serviceRegistryBytecode,
  ticketBrokerAbi,
  ticketBrokerBytecode,
} from "./contracts.gen.ts";

/** anvil's deterministic development keys (mnemonic "test test … junk"); devnet only, never real funds. */
export const ANVIL_DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
] as const satisfies readonly Hex[];

/**
 * Addresses of a devnet deployed by {@link deployDevnet} on a fresh anvil with the default deployer
 * (anvil key 0): contract addresses follow from the deployer's nonces 0–5.
 */
export const DEVNET_DEFAULT_ADDRESSES: ContractAddresses = (() => {
  const from = privateKeyToAccount(ANVIL_DEV_KEYS[0]).address;
  const at = (nonce: bigint) => getContractAddress({ from, nonce });
  return {
    controller: at(0n),
    roundsManager: at(1n),
    bondingManager: at(2n),
    ticketBroker: at(3n),
    serviceRegistry: at(4n),
    aiServiceRegistry: at(5n),
  };
})();

/** Digits of the devnet ETH/USD feed's answer (Chainlink's ETH/USD on Arbitrum One: 8). */
export const DEVNET_PRICE_FEED_DECIMALS = 8;
/** The devnet ETH/USD feed's first answer: 3000 USD per ETH. */
export const DEVNET_ETH_USD = 3000n * 10n ** BigInt(DEVNET_PRICE_FEED_DECIMALS);

/**
 * Address of the devnet's ETH/USD price feed (src/chain/contracts/PriceFeed.sol) on a fresh anvil with
 * the default deployer: deployed right after the AI Service Registry (nonce 6).
 */
export const DEVNET_PRICE_FEED_ADDRESS: Address = getContractAddress({
  from: privateKeyToAccount(ANVIL_DEV_KEYS[0]).address,
  nonce: 6n,
});

/** An account with its key. */
export interface DevnetAccount {
  address: Address;
  privateKey: Hex;
}

/** Blocks per round on the devnet. */
export const DEFAULT_ROUND_LENGTH = 100;

/** Options of {@link deployDevnet}. */
export interface DevnetDeployOptions {
  /** Blocks per round; default {@link DEFAULT_ROUND_LENGTH}. */
  roundLength?: number;
  /** Rounds a winning ticket stays redeemable; default 2 (Arbitrum One). */
  ticketValidityPeriod?: number;
  /** Rounds between unlock and withdraw; default 2 (Arbitrum One). */
  unlockPeriod?: number;
  /** Active pool cap; default 100 (Arbitrum One). */
  numActiveTranscoders?: number;
  /** Key of the deployer (Controller owner); default anvil key 0. */
  deployerKey?: Hex;
  /** Key of the gateway (ticket sender); default anvil key 1. */
  gatewayKey?: Hex;
  /** Key of the orchestrator (ticket recipient); default anvil key 2. */
  orchestratorKey?: Hex;
  /** Stake of the orchestrator in the pool (wei of a token that does not exist); default 1e21. */
  orchestratorStake?: bigint;
  /** Service URI the orchestrator registers in both registries; none by default. */
  orchestratorServiceUri?: string;
  /** Deposit the gateway funds in the TicketBroker; default 0 (none). */
  gatewayDeposit?: bigint;
  /** Reserve the gateway funds in the TicketBroker; default 0 (none). */
  gatewayReserve?: bigint;
  /** First answer of the ETH/USD feed, with {@link DEVNET_PRICE_FEED_DECIMALS}; default {@link DEVNET_ETH_USD}. */
  ethUsd?: bigint;
}

/** What {@link deployDevnet} produced. */
export interface DevnetDeployment {
  rpcUrl: string;
  chainId: number;
  contracts: ContractAddresses;
  /** The ETH/USD price feed (PriceFeed.sol, owned by the deployer, which can set its answer). */
  priceFeed: Address;
  accounts: { deployer: DevnetAccount; gateway: DevnetAccount; orchestrator: DevnetAccount };
  /** The round initialized by the deployment. */
  round: bigint;
  roundLength: number;
  ticketValidityPeriod: number;
  unlockPeriod: number;
}

function account(privateKey: Hex): DevnetAccount {
  return { address: privateKeyToAccount(privateKey).address, privateKey };
}

function deployFailed(message: string): TributaryError {
  return new TributaryError("DEVNET_DEPLOY_FAILED", message, { status: 500 });
}

/** Waits for a transaction and throws if it reverted. */
async function confirm(clients: SigningChainClients, hash: Hash, what: string): Promise<void> {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw deployFailed(`devnet deploy: ${what} reverted (tx ${hash})`);
}

async function deploy(
  clients: SigningChainClients,
  abi: readonly unknown[],
  bytecode: Hex,
  args: readonly unknown[],
  name: string,
): Promise<Address> {
  const hash = await clients.walletClient.deployContract({ abi, bytecode, args } as never);
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress)
    throw deployFailed(`devnet deploy: ${name} failed`);
  return getAddress(receipt.contractAddress);
}

/**
 * Deploys Controller, RoundsManager, BondingManager, TicketBroker, ServiceRegistry, a second
 * ServiceRegistry as the AI Service Registry and an ETH/USD PriceFeed on the chain at `rpcUrl`; registers
 * the protocol contracts in the Controller
 * and unpauses it; registers the orchestrator in the pool with stake (and its service URI if given);
 * initializes the current round; funds the gateway's deposit and reserve if asked.
 * With anvil's fresh state and the default deployer the addresses are always the same.
 */
export async function deployDevnet(
  rpcUrl: string,
  options: DevnetDeployOptions = {},
): Promise<DevnetDeployment> {
  const roundLength = options.roundLength ?? DEFAULT_ROUND_LENGTH;
  const ticketValidityPeriod = options.ticketValidityPeriod ?? 2;
  const unlockPeriod = options.unlockPeriod ?? 2;
  const deployer = account(options.deployerKey ?? ANVIL_DEV_KEYS[0]);
  const gateway = account(options.gatewayKey ?? ANVIL_DEV_KEYS[1]);
  const orchestrator = account(options.orchestratorKey ?? ANVIL_DEV_KEYS[2]);
  const probe = createChainClients({ rpcUrl, chainId: DEVNET_CHAIN_ID });
  const chainId = await probe.publicClient.getChainId();
  const d = createChainClients({ rpcUrl, chainId, privateKey: deployer.privateKey });
  const o = createChainClients({ rpcUrl, chainId, privateKey: orchestrator.privateKey });
  const g = createChainClients({ rpcUrl, chainId, privateKey: gateway.privateKey });

  const controller = await deploy(d, controllerAbi, controllerBytecode, [], "Controller");
  const roundsManager = await deploy(
    d,
    roundsManagerAbi,
    roundsManagerBytecode,
    [controller, BigInt(roundLength)],
    "RoundsManager",
  );
  const bondingManager = await deploy(
    d,
    bondingManagerAbi,
    bondingManagerBytecode,
    [controller, BigInt(options.numActiveTranscoders ?? 100)],
    "BondingManager",
  );
  const ticketBroker = await deploy(
    d,
    ticketBrokerAbi,
    ticketBrokerBytecode,
    [controller, BigInt(unlockPeriod), BigInt(ticketValidityPeriod)],
    "TicketBroker",
  );
  const serviceRegistry = await deploy(d, serviceRegistryAbi, serviceRegistryBytecode, [], "ServiceRegistry");
  const aiServiceRegistry = await deploy(
    d,
    serviceRegistryAbi,
    serviceRegistryBytecode,
    [],
    "AIServiceRegistry",
  );
  const priceFeed = await deploy(
    d,
    priceFeedAbi,
    priceFeedBytecode,
    [DEVNET_PRICE_FEED_DECIMALS, "ETH / USD", options.ethUsd ?? DEVNET_ETH_USD],
    "PriceFeed",
  );

  const register: [Hex, Address][] = [
    [CONTRACT_IDS.TicketBroker, ticketBroker],
    [CONTRACT_IDS.BondingManager, bondingManager],
    [CONTRACT_IDS.RoundsManager, roundsManager],
    [CONTRACT_IDS.ServiceRegistry, serviceRegistry],
  ];
  for (const [id, addr] of register) {
    const hash = await d.walletClient.writeContract({
      address: controller,
      abi: controllerAbi,
      functionName: "setContractInfo",
      args: [id, addr, `0x${"00".repeat(20)}`],
    });
    await confirm(d, hash, "setContractInfo");
  }
  await confirm(
    d,
    await d.walletClient.writeContract({ address: controller, abi: controllerAbi, functionName: "unpause" }),
    "unpause",
  );

  await confirm(
    o,
    await o.walletClient.writeContract({
      address: bondingManager,
      abi: bondingManagerAbi,
      functionName: "transcoder",
      args: [0n, 1_000_000n],
    }),
    "transcoder",
  );
  await confirm(
    d,
    await d.walletClient.writeContract({
      address: bondingManager,
      abi: bondingManagerAbi,
      functionName: "setTranscoderStake",
      args: [orchestrator.address, options.orchestratorStake ?? 10n ** 21n],
    }),
    "setTranscoderStake",
  );
  if (options.orchestratorServiceUri !== undefined) {
    for (const registry of [serviceRegistry, aiServiceRegistry]) {
      await confirm(
        o,
        await o.walletClient.writeContract({
          address: registry,
          abi: serviceRegistryAbi,
          functionName: "setServiceURI",
          args: [options.orchestratorServiceUri],
        }),
        "setServiceURI",
      );
    }
  }
  const round = await initializeCurrentRound(d, roundsManager);
  const deposit = options.gatewayDeposit ?? 0n;
  const reserve = options.gatewayReserve ?? 0n;
  if (deposit > 0n || reserve > 0n) {
    await confirm(
      g,
      await g.walletClient.writeContract({
        address: ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "fundDepositAndReserve",
        args: [deposit, reserve],
        value: deposit + reserve,
      }),
      "fundDepositAndReserve",
    );
  }
  return {
    rpcUrl,
    chainId,
    contracts: {
      controller,
      ticketBroker,
      roundsManager,
      bondingManager,
      serviceRegistry,
      aiServiceRegistry,
    },
    priceFeed,
    accounts: { deployer, gateway, orchestrator },
    round,
    roundLength,
    ticketValidityPeriod,
    unlockPeriod,
  };
}

/**
 * Whether the round the next transaction lands in is initialized. It is read at the pending block:
 * at the last block of a round, the latest block's round is initialized but any transaction (a
 * redemption, this initialization) executes in the next block, the first of a round nobody has
 * initialized yet; on an automine chain no block comes on its own, so reading `latest` there waits
 * forever.
 */
export function nextRoundInitialized(clients: ChainClients, roundsManager: Address): Promise<boolean> {
  return clients.publicClient.readContract({
    address: roundsManager,
    abi: roundsManagerAbi,
    functionName: "currentRoundInitialized",
    blockTag: "pending",
  });
}

/**
 * Initializes the round the next transaction lands in (see {@link nextRoundInitialized}) if it is
 * not yet; returns the current round afterwards.
 */
export async function initializeCurrentRound(
  clients: SigningChainClients,
  roundsManager: Address,
): Promise<bigint> {
  const initialized = await nextRoundInitialized(clients, roundsManager);
  if (!initialized) {
    await confirm(
      clients,
      await clients.walletClient.writeContract({
        address: roundsManager,
        abi: roundsManagerAbi,
        functionName: "initializeRound",
      }),
      "initializeRound",
    );
  }
  return clients.publicClient.readContract({
    address: roundsManager,
    abi: roundsManagerAbi,
    functionName: "currentRound",
  });
}

/**
 * Sets the devnet ETH/USD feed's answer (with {@link DEVNET_PRICE_FEED_DECIMALS}) as the deployer: a new
 * round updated now, or at `updatedAt` (unix seconds) to test staleness. Devnet only.
 */
export async function setDevnetEthUsd(
  deployment: DevnetDeployment,
  answer: bigint,
  updatedAt?: bigint,
): Promise<void> {
  const d = createChainClients({
    rpcUrl: deployment.rpcUrl,
    chainId: deployment.chainId,
    privateKey: deployment.accounts.deployer.privateKey,
  });
  const hash =
    updatedAt === undefined
      ? await d.walletClient.writeContract({
          address: deployment.priceFeed,
          abi: priceFeedAbi,
          functionName: "setAnswer",
          args: [answer],
        })
      : await d.walletClient.writeContract({
          address: deployment.priceFeed,
          abi: priceFeedAbi,
          functionName: "setRoundData",
          args: [answer, updatedAt],
        });
  await confirm(d, hash, "PriceFeed answer");
}

/** Mines `blocks` empty blocks (anvil `anvil_mine`). */
export async function mineBlocks(rpcUrl: string, blocks: number): Promise<void> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "anvil_mine",
      params: [`0x${blocks.toString(16)}`],
    }),
  });
  const body = (await res.json()) as { error?: { message: string } };
  if (body.error) throw deployFailed(`anvil_mine failed: ${body.error.message}`);
}

/** Mines to the first block of the next round and initializes it; returns the new round. */
export async function advanceRound(deployment: DevnetDeployment, rounds = 1): Promise<bigint> {
  const d = createChainClients({
    rpcUrl: deployment.rpcUrl,
    chainId: deployment.chainId,
    privateKey: deployment.accounts.deployer.privateKey,
  });
  const rm = deployment.contracts.roundsManager;
  const start = await d.publicClient.readContract({
    address: rm,
    abi: roundsManagerAbi,
    functionName: "currentRoundStartBlock",
  });
  const block = await d.publicClient.getBlockNumber();
  // Reads see the latest mined block, so mine up to the first block of the target round.
  const target = start + BigInt(deployment.roundLength) * BigInt(rounds);
  const toMine = Number(target - block);
  if (toMine > 0) await mineBlocks(deployment.rpcUrl, toMine);
  return initializeCurrentRound(d, rm);
}

/** Options of {@link startRoundInitializer}. */
export interface RoundInitializerOptions {
  clients: SigningChainClients;
  roundsManager: Address;
  signal: AbortSignal;
  /** Called when a round was initialized or an attempt failed. */
  onEvent?: (event: { round?: bigint; error?: unknown }) => void;
}

/**
 * Keeps rounds initialized: on every new block, if the round the next transaction lands in is not
 * initialized ({@link nextRoundInitialized}), initializes it. Runs until `signal` aborts. Failures
 * are reported to `onEvent` and retried on the next block.
 */
export function startRoundInitializer(options: RoundInitializerOptions): void {
  let busy = false;
  const unwatch = options.clients.publicClient.watchBlockNumber({
    emitOnBegin: true,
    onBlockNumber: async () => {
      if (busy || options.signal.aborted) return;
      busy = true;
      try {
        if (!(await nextRoundInitialized(options.clients, options.roundsManager))) {
          const round = await initializeCurrentRound(options.clients, options.roundsManager);
          options.onEvent?.({ round });
        }
      } catch (error) {
        if (!options.signal.aborted) options.onEvent?.({ error });
      } finally {
        busy = false;
      }
    },
    onError: (error) => options.onEvent?.({ error }),
  });
  options.signal.addEventListener("abort", () => unwatch(), { once: true });
}

/** A running devnet: anvil plus the deployment. Disposing stops anvil. */
export interface Devnet extends DevnetDeployment, AsyncDisposable {
  anvil: Anvil;
  stop(): Promise<void>;
}

/** Starts anvil and deploys the devnet on it. On any failure anvil is stopped before rethrowing. */
export async function startDevnet(
  options: DevnetDeployOptions & { anvil?: AnvilOptions } = {},
): Promise<Devnet> {
  const anvil = await startAnvil(options.anvil);
  try {
    const deployment = await deployDevnet(anvil.rpcUrl, options);
    return { ...deployment, anvil, stop: () => anvil.stop(), [Symbol.asyncDispose]: () => anvil.stop() };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}
