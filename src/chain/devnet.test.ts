import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { type Address, encodeAbiParameters, encodePacked, type Hex, keccak256, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { bondingManagerAbi, roundsManagerAbi, serviceRegistryAbi, ticketBrokerAbi } from "./abis.ts";
import { AnvilStartError, startAnvil } from "./anvil.ts";
import { createChainClients } from "./clients.ts";
import {
  ANVIL_DEV_KEYS,
  advanceRound,
  DEVNET_DEFAULT_ADDRESSES,
  type Devnet,
  startDevnet,
} from "./devnet.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("anvil answers on an ephemeral 127.0.0.1 port and is gone after dispose", async () => {
  let pid: number | undefined;
  {
    await using anvil = await startAnvil();
    assert.match(anvil.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(anvil.port, 0);
    pid = anvil.pid;
    assert.ok(pid !== undefined && alive(pid));
  }
  assert.equal(alive(pid!), false);
});

test("a port already in use is a clear AnvilStartError", async () => {
  await using first = await startAnvil();
  await assert.rejects(startAnvil({ port: first.port }), (err: unknown) => {
    assert.ok(err instanceof AnvilStartError);
    assert.match(err.message, /anvil exited before listening/);
    assert.match(String(err.details?.output), /in use/i);
    return true;
  });
});

test("aborting the signal stops anvil", async () => {
  const ac = new AbortController();
  const anvil = await startAnvil({ signal: ac.signal });
  const pid = anvil.pid!;
  ac.abort();
  await anvil.stop();
  assert.equal(alive(pid), false);
});

test("anvil dies with its owner even when the owner is SIGKILLed", async () => {
  const script = `
    import { startAnvil } from ${JSON.stringify(new URL("./anvil.ts", import.meta.url).href)};
    const anvil = await startAnvil();
    process.stdout.write(String(anvil.pid) + "\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  const pid = Number(line);
  assert.ok(alive(pid));
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(pid), false, "the watchdog killed anvil");
});

describe("devnet deployment", () => {
  let devnet: Devnet;
  before(async () => {
    devnet = await startDevnet({ orchestratorServiceUri: "https://127.0.0.1:8935", roundLength: 20 });
  });
  after(async () => {
    await devnet?.stop();
  });

  test("lands at the documented default addresses", () => {
    assert.deepEqual(devnet.contracts, DEVNET_DEFAULT_ADDRESSES);
  });

  test("uses anvil's deterministic dev accounts", async () => {
    const { publicClient } = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
    const accounts = (await publicClient.request({ method: "eth_accounts" } as never)) as string[];
    assert.deepEqual(
      ANVIL_DEV_KEYS.map((k) => privateKeyToAccount(k).address.toLowerCase()),
      accounts.slice(0, ANVIL_DEV_KEYS.length).map((a) => a.toLowerCase()),
    );
    assert.deepEqual(
      [devnet.accounts.deployer, devnet.accounts.gateway, devnet.accounts.orchestrator].map(
        (a) => a.privateKey,
      ),
      ANVIL_DEV_KEYS.slice(0, 3),
    );
  });

  test("registers the orchestrator in the active pool with stake and its service URI", async () => {
    const { publicClient } = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
    const bm = devnet.contracts.bondingManager;
    const o = devnet.accounts.orchestrator.address;
    assert.equal(
      await publicClient.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "getFirstTranscoderInPool",
      }),
      o,
    );
    assert.equal(
      await publicClient.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "getNextTranscoderInPool",
        args: [o],
      }),
      zeroAddress,
    );
    assert.equal(
      await publicClient.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "isActiveTranscoder",
        args: [o],
      }),
      true,
    );
    assert.equal(
      await publicClient.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "transcoderTotalStake",
        args: [o],
      }),
      10n ** 21n,
    );
    for (const registry of [devnet.contracts.serviceRegistry, devnet.contracts.aiServiceRegistry]) {
      assert.equal(
        await publicClient.readContract({
          address: registry,
          abi: serviceRegistryAbi,
          functionName: "getServiceURI",
          args: [o],
        }),
        "https://127.0.0.1:8935",
      );
    }
  });

  test("initializes a round with a block hash, and advanceRound moves to the next one", async () => {
    const { publicClient } = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
    const rm = devnet.contracts.roundsManager;
    assert.equal(
      await publicClient.readContract({
        address: rm,
        abi: roundsManagerAbi,
        functionName: "currentRoundInitialized",
      }),
      true,
    );
    const hash = await publicClient.readContract({
      address: rm,
      abi: roundsManagerAbi,
      functionName: "blockHashForRound",
      args: [devnet.round],
    });
    assert.notEqual(hash, `0x${"00".repeat(32)}`);
    const next = await advanceRound(devnet);
    assert.equal(next, devnet.round + 1n);
    assert.equal(
      await publicClient.readContract({
        address: rm,
        abi: roundsManagerAbi,
        functionName: "currentRoundInitialized",
      }),
      true,
    );
  });

  test("on-chain getTicketHash matches the go-livepeer hash vectors", async () => {
    const { publicClient } = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
    const zero32: Hex = `0x${"00".repeat(32)}`;
    const base = {
      recipient: zeroAddress as Address,
      sender: zeroAddress as Address,
      faceValue: 0n,
      winProb: 0n,
      senderNonce: 0n,
      recipientRandHash: zero32,
      auxData: "0x" as Hex,
    };
    const foo = keccak256(new TextEncoder().encode("foo"));
    const cases: [Partial<typeof base>, string][] = [
      [{ senderNonce: 4294967295n }, "e1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280"],
      [{ faceValue: 1n, winProb: 500n }, "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd"],
      [
        { recipient: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F" },
        "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc",
      ],
      [{ recipientRandHash: foo }, "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17"],
      [
        { auxData: encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [10n, foo]) },
        "e502907c16036ab3d11b78c5a2e93c20f3d6415c67f91de4ed01348182b3b2e2",
      ],
    ];
    for (const [fields, expected] of cases) {
      const t = { ...base, ...fields };
      const onChain = await publicClient.readContract({
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "getTicketHash",
        args: [t],
      });
      assert.equal(onChain, `0x${expected}`);
      const local = keccak256(
        encodePacked(
          ["address", "address", "uint256", "uint256", "uint256", "bytes32", "bytes"],
          [t.recipient, t.sender, t.faceValue, t.winProb, t.senderNonce, t.recipientRandHash, t.auxData],
        ),
      );
      assert.equal(local, onChain);
    }
  });
});
