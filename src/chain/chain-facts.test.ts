import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address, Hex } from "viem";
import { type ChainFacts, startChainFacts } from "./chain-facts.ts";
import type { ChainClients } from "./clients.ts";

const SENDER: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const RECIPIENT: Address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const hashOf = (round: bigint): Hex => `0x${round.toString(16).padStart(64, "0")}`;

/** A scriptable stand-in for the viem public client: what the chain says, and which reads fail or hang. */
function fakeChain() {
  const state = {
    block: 100n,
    round: 10n,
    deposit: 5n,
    /** Function names whose reads throw (a refused RPC). */
    failing: new Set<string>(),
    /** When true, every read never answers (an RPC that hangs). */
    hang: false,
    /** Reads per function name. */
    reads: new Map<string, number>(),
  };
  const answer = <T>(name: string, value: () => T): Promise<T> => {
    state.reads.set(name, (state.reads.get(name) ?? 0) + 1);
    if (state.hang) return new Promise<T>(() => {});
    if (state.failing.has(name) || state.failing.has("*")) return Promise.reject(new Error("fetch failed"));
    return Promise.resolve(value());
  };
  const publicClient = {
    chain: { id: 1337 },
    getBlock: () => answer("getBlock", () => ({ number: state.block })),
    getGasPrice: () => answer("getGasPrice", () => 1n),
    readContract: (call: { functionName: string; args?: readonly unknown[] }) =>
      answer(call.functionName, () => {
        switch (call.functionName) {
          case "lastInitializedRound":
            return state.round;
          case "blockHashForRound":
            return hashOf(call.args![0] as bigint);
          case "isActiveTranscoder":
            return true;
          case "getSenderInfo":
            return [
              { deposit: state.deposit, withdrawRound: 0n },
              { fundsRemaining: 7n, claimedInCurrentRound: 0n },
            ];
          case "getTranscoderPoolSize":
            return 1n;
          case "claimedReserve":
            return 0n;
          default:
            throw new Error(`unexpected read ${call.functionName}`);
        }
      }),
  };
  const clients = { publicClient } as unknown as ChainClients;
  return { state, clients };
}

async function start(
  chain: ReturnType<typeof fakeChain>,
  extra: { senderTtlMs?: number; now?: () => number } = { senderTtlMs: 0 },
): Promise<ChainFacts> {
  return startChainFacts({
    ...extra,
    clients: chain.clients,
    contracts: { roundsManager: RECIPIENT, bondingManager: RECIPIENT, ticketBroker: RECIPIENT },
    recipient: RECIPIENT,
    pollIntervalMs: 60_000, // refreshed by hand
    staleAfterMs: 50,
  });
}

test("a refresh that fails half way keeps every previous fact (never a round with another round's hash)", async () => {
  const chain = fakeChain();
  await using facts = await start(chain);
  assert.equal(facts.lastInitializedRound(), 10n);
  chain.state.round = 11n;
  chain.state.block = 200n;
  chain.state.failing.add("blockHashForRound");
  await assert.rejects(facts.refresh());
  assert.equal(facts.lastInitializedRound(), 10n);
  assert.equal(facts.lastInitializedL1BlockHash(), hashOf(10n));
  assert.equal(facts.lastSeenL1Block(), 100n);
  chain.state.failing.clear();
  await facts.refresh();
  assert.equal(facts.lastInitializedRound(), 11n);
  assert.equal(facts.lastInitializedL1BlockHash(), hashOf(11n));
  assert.equal(facts.lastSeenL1Block(), 200n);
});

test("sender info and max float fall back to the last known values when the RPC refuses or hangs", async () => {
  const chain = fakeChain();
  await using facts = await start(chain);
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
  const float = await facts.maxFloat(SENDER);
  chain.state.deposit = 6n;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 6n, "read fresh while the RPC answers");

  // Hung first (the stale bound answers), then refused (the quiet period after a failure answers).
  chain.state.hang = true;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 6n, "hung: the last known value");
  chain.state.hang = false;
  chain.state.failing.add("*");
  assert.equal((await facts.senderInfo(SENDER)).deposit, 6n, "refused: the last known value");
  assert.ok((await facts.maxFloat(SENDER)) >= float);
  const other: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
  // A sender never read while the RPC answered has no value to fall back to.
  await assert.rejects(async () => facts.senderInfo(other), /fetch failed/);
});

test("a refused read answers the last known value at once", async () => {
  const chain = fakeChain();
  await using facts = await start(chain);
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
  chain.state.failing.add("getSenderInfo");
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
});

test("per-sender reads are served from memory for the TTL, then read again", async () => {
  const chain = fakeChain();
  const clock = { t: 1_000 };
  await using facts = await start(chain, { senderTtlMs: 2_000, now: () => clock.t });
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
  await facts.maxFloat(SENDER);
  chain.state.deposit = 6n;
  clock.t += 1_999;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n, "within the TTL: the cached value");
  await facts.maxFloat(SENDER);
  assert.equal(chain.state.reads.get("getSenderInfo"), 1);
  assert.equal(chain.state.reads.get("getTranscoderPoolSize"), 1);
  assert.equal(chain.state.reads.get("claimedReserve"), 1);
  clock.t += 1;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 6n, "after the TTL: read again");
  assert.equal(chain.state.reads.get("getSenderInfo"), 2);
});

test("concurrent misses of one sender share a single read", async () => {
  const chain = fakeChain();
  await using facts = await start(chain, { senderTtlMs: 60_000 });
  const infos = await Promise.all(Array.from({ length: 20 }, () => facts.senderInfo(SENDER)));
  await Promise.all(Array.from({ length: 20 }, () => facts.maxFloat(SENDER)));
  assert.ok(infos.every((i) => i.deposit === 5n));
  assert.equal(chain.state.reads.get("getSenderInfo"), 1);
  assert.equal(chain.state.reads.get("getTranscoderPoolSize"), 1);
  assert.equal(chain.state.reads.get("claimedReserve"), 1);
});
