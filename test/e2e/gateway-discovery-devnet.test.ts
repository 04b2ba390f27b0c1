/**
 * On-chain discovery end to end: a devnet (anvil + our contracts) with orchestrators in the
 * BondingManager pool; two register their service URIs in the AI Service Registry and run fake gRPC
 * orchestrators (TLS, self-signed), one registers only in the ServiceRegistry (fallback) and is
 * unreachable, one has no URI at all. The chain source lists the pool by stake with URIs; the pool
 * fans a *signed* GetOrchestrator out over gRPC; the selector ranks the answers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Address, bytesToHex, getAddress, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANVIL_DEV_KEYS,
  bondingManagerAbi,
  createChainClients,
  serviceRegistryAbi,
} from "../../src/chain/index.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../../src/gateway/capabilities.ts";
import {
  chainSource,
  createGrpcOrchestratorClient,
  OrchestratorPool,
  onchainInfoPredicate,
  signRequestCredentials,
} from "../../src/gateway/discovery/index.ts";
import { startFakeOrchestrator } from "../../src/gateway/discovery/testing.ts";
import { createSelector, Suspender, seededRandom, stakeStrategy } from "../../src/gateway/selection/index.ts";
import { checkPayloadSig } from "../../src/payments/signature.ts";
import { devnetFixture } from "../devnet.ts";

const MODEL = "ByteDance/SDXL-Lightning";

/** What a fake orchestrator at `url` answers, as orchestrator `address` with the model warm or cold. */
function fakeInfo(url: string, address: Address, warm: boolean, price: bigint) {
  return {
    transcoder: url,
    address: Buffer.from(address.slice(2), "hex"),
    priceInfo: { pricePerUnit: price, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      capacities: { [CAPABILITY.TextToImage]: 1 },
      version: "0.8.0",
      constraints: {
        PerCapability: { [CAPABILITY.TextToImage]: { models: { [MODEL]: { warm, capacity: 1 } } } },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: MODEL, pricePerUnit: price, pixelsPerUnit: 1n },
    ],
  };
}

test("gateway discovery on the devnet", async (suite) => {
  const keys = {
    warm: ANVIL_DEV_KEYS[2] as Hex, // the devnet's own orchestrator, stake 1e21
    cold: ANVIL_DEV_KEYS[3] as Hex,
    fallback: ANVIL_DEV_KEYS[4] as Hex,
    nouri: generatePrivateKey(),
  };
  const addr = (k: Hex) => privateKeyToAccount(k).address;

  await using net = await devnetFixture();
  const { devnet } = net;
  const grpc = net.use(createGrpcOrchestratorClient());
  const warmOrch = net.use(
    await startFakeOrchestrator((_req, { url }) => fakeInfo(url, addr(keys.warm), true, 5n)),
  );
  const coldOrch = net.use(
    await startFakeOrchestrator((_req, { url }) => fakeInfo(url, addr(keys.cold), false, 3n)),
  );

  const { rpcUrl, chainId, contracts } = devnet;
  const deployer = createChainClients({ rpcUrl, chainId, privateKey: devnet.accounts.deployer.privateKey });
  await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "anvil_setBalance",
      params: [addr(keys.nouri), `0x${parseEther("10").toString(16)}`],
    }),
  });
  const send = async (
    key: Hex,
    address: Address,
    abi: readonly unknown[],
    functionName: string,
    args: unknown[],
  ) => {
    const c =
      key === devnet.accounts.deployer.privateKey
        ? deployer
        : createChainClients({ rpcUrl, chainId, privateKey: key });
    const hash = await c.walletClient.writeContract({ address, abi, functionName, args } as never);
    const receipt = await c.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success", `${functionName} reverted`);
  };
  // Three more orchestrators join the pool, with less stake than the devnet's own (1e21).
  const stakes: [Hex, bigint][] = [
    [keys.cold, 5n * 10n ** 20n],
    [keys.fallback, 2n * 10n ** 20n],
    [keys.nouri, 10n ** 20n],
  ];
  for (const [key, stake] of stakes) {
    await send(key, contracts.bondingManager, bondingManagerAbi, "transcoder", [0n, 1_000_000n]);
    await send(
      devnet.accounts.deployer.privateKey,
      contracts.bondingManager,
      bondingManagerAbi,
      "setTranscoderStake",
      [addr(key), stake],
    );
  }
  // URIs: the warm and cold fakes in the AI Service Registry (host:port form, as operators write
  // them), the fallback only in the ServiceRegistry (unreachable), the last one nowhere.
  await send(keys.warm, contracts.aiServiceRegistry, serviceRegistryAbi, "setServiceURI", [
    warmOrch.url.replace("https://", ""),
  ]);
  await send(keys.cold, contracts.aiServiceRegistry, serviceRegistryAbi, "setServiceURI", [coldOrch.url]);
  await send(keys.fallback, contracts.serviceRegistry, serviceRegistryAbi, "setServiceURI", [
    "https://127.0.0.1:1",
  ]);

  const source = () => {
    const skipped: [Address, string][] = [];
    const s = chainSource({
      publicClient: createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId }).publicClient,
      bondingManager: devnet.contracts.bondingManager,
      aiServiceRegistry: devnet.contracts.aiServiceRegistry,
      serviceRegistry: devnet.contracts.serviceRegistry,
      roundsManager: devnet.contracts.roundsManager,
      onSkip: (a, reason) => skipped.push([a, reason]),
    });
    return { source: s, skipped };
  };

  await suite.test(
    "the chain source lists the active pool by stake with URIs from the AI Service Registry, else the ServiceRegistry",
    async () => {
      const { source: s, skipped } = source();
      const list = await s.list();
      assert.deepEqual(
        list.map((c) => [c.url, c.ethAddress, c.stake]),
        [
          [warmOrch.url, addr(keys.warm), 10n ** 21n],
          [coldOrch.url, addr(keys.cold), 5n * 10n ** 20n],
          ["https://127.0.0.1:1", addr(keys.fallback), 2n * 10n ** 20n],
        ],
      );
      assert.ok(list.every((c) => c.source === "chain" && c.score === 1));
      assert.deepEqual(skipped, [[getAddress(addr(keys.nouri)), "no service URI registered"]]);
    },
  );

  await suite.test(
    "the pool asks every listed orchestrator with a signed request and keeps those that answer",
    async () => {
      const credentials = await signRequestCredentials(
        privateKeyToAccount(devnet.accounts.gateway.privateKey),
      );
      await using pool = new OrchestratorPool({
        source: source().source,
        fetchInfo: grpc.getOrchestrator,
        credentials,
        predicates: [onchainInfoPredicate],
        callTimeoutMs: 3_000,
      });
      const found = await pool.refresh();
      assert.deepEqual(found.map((d) => d.url).sort(), [coldOrch.url, warmOrch.url].sort());
      const byUrl = Object.fromEntries(found.map((d) => [d.url, d]));
      assert.equal(byUrl[warmOrch.url]?.candidate.stake, 10n ** 21n);
      assert.equal(byUrl[coldOrch.url]?.address, addr(keys.cold).toLowerCase());
      assert.equal(pool.stats("https://127.0.0.1:1")?.failures, 1);
      assert.equal(pool.stats(warmOrch.url)?.successes, 1);

      for (const orch of [warmOrch, coldOrch]) {
        const req = orch.requests.at(-1);
        assert.ok(req);
        const gateway = devnet.accounts.gateway.address;
        assert.equal(getAddress(bytesToHex(req.address)), gateway);
        assert.ok((await checkPayloadSig(gateway, gateway, bytesToHex(req.sig))).valid, "signature verifies");
      }

      const suspender = new Suspender();
      const selector = createSelector({ strategy: stakeStrategy(), random: seededRandom(1), suspender });
      const pick = () =>
        selector
          .select(pool.snapshot(), { pipeline: "text-to-image", modelId: MODEL })
          .ranked.map((s) => s.descriptor.url);
      assert.deepEqual(pick(), [warmOrch.url, coldOrch.url], "warm runner first");
      suspender.suspend(warmOrch.url);
      assert.deepEqual(pick(), [coldOrch.url, warmOrch.url], "a suspended orchestrator drops to the end");
    },
  );
});
