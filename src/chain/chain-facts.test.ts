import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import type { Address, Hex } from "viem";
import { until } from "../../test/until.ts";
import { createLogger } from "../node/logger.ts";
import { ChainFactsStaleError } from "../payments/chain-facts.ts";
import { type ChainFacts, type ChainFactsOptions, startChainFacts } from "./chain-facts.ts";
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
  extra: Partial<ChainFactsOptions> = { senderTtlMs: 0 },
): Promise<ChainFacts> {
  return startChainFacts({
    clients: chain.clients,
    contracts: { roundsManager: RECIPIENT, bondingManager: RECIPIENT, ticketBroker: RECIPIENT },
    recipient: RECIPIENT,
    pollIntervalMs: 60_000, // refreshed by hand
    staleAfterMs: 50,
    ...extra,
  });
}

/** A logger keeping its lines in memory, parsed. */
function memoryLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger({ name: "chain-facts-test", level: "info", destination });
  const matching = (re: RegExp) => lines.filter((l) => re.test(l.msg));
  return { logger, lines, matching };
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

test("per-sender reads of many addresses keep at most maxCachedKeys in memory, least recently read out first", async () => {
  const chain = fakeChain();
  await using facts = await start(chain, { senderTtlMs: 60_000, maxCachedKeys: 4 });
  const addr = (i: number): Address => `0x${i.toString(16).padStart(40, "0")}`;
  await facts.senderInfo(SENDER);
  for (let i = 1; i <= 3; i++) await facts.senderInfo(addr(i));
  await facts.senderInfo(SENDER); // within the TTL: from memory, still 4 keys
  assert.equal(chain.state.reads.get("getSenderInfo"), 4);
  for (let i = 4; i <= 300; i++) await facts.senderInfo(addr(i)); // a stranger per request
  assert.equal(chain.state.reads.get("getSenderInfo"), 301);
  await facts.senderInfo(addr(300)); // kept: the most recent
  assert.equal(chain.state.reads.get("getSenderInfo"), 301);
  await facts.senderInfo(SENDER); // pushed out by the strangers: read again, not answered from memory
  assert.equal(chain.state.reads.get("getSenderInfo"), 302);
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

test("past the staleness bound, sender info and max float refuse with CHAIN_FACTS_STALE until a refresh succeeds", async () => {
  const chain = fakeChain();
  const clock = { t: 1_000_000 };
  const log = memoryLogger();
  await using facts = await start(chain, {
    senderTtlMs: 0,
    now: () => clock.t,
    maxStalenessMs: 10_000,
    rpcUrl: "https://user:hunter2@rpc.example.com:8545/v2/APIKEY123",
    logger: log.logger,
  });
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
  const float = await facts.maxFloat(SENDER);

  // The RPC goes away: within the bound, the cached facts answer (a short outage fails nothing).
  chain.state.failing.add("*");
  await assert.rejects(facts.refresh());
  clock.t += 10_000;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n, "at the bound: still the cached value");
  assert.equal(await facts.maxFloat(SENDER), float);
  assert.equal(facts.stale(), undefined);

  // One millisecond past it: refused, without asking the RPC, with an error that names the cause.
  clock.t += 1;
  const readsBefore = chain.state.reads.get("getSenderInfo");
  const refused = (err: unknown): boolean => {
    assert.ok(err instanceof ChainFactsStaleError, String(err));
    assert.equal(err.code, "CHAIN_FACTS_STALE");
    assert.equal(err.status, 503);
    assert.match(
      err.message,
      /no successful read from the chain RPC at rpc\.example\.com:8545 for 10 s \(limit 10 s\)/,
    );
    assert.doesNotMatch(err.message, /hunter2|user|APIKEY123/, "no credentials, no path");
    assert.deepEqual(err.details, {
      stale_for_ms: 10_001,
      max_staleness_ms: 10_000,
      rpc_host: "rpc.example.com:8545",
    });
    return true;
  };
  await assert.rejects(async () => facts.senderInfo(SENDER), refused);
  await assert.rejects(async () => facts.maxFloat(SENDER), refused);
  assert.equal(chain.state.reads.get("getSenderInfo"), readsBefore, "no RPC read while stale");
  assert.ok(refused(facts.stale()));
  clock.t += 60_000;
  await assert.rejects(async () => facts.senderInfo(SENDER), / for 70 s /);
  assert.equal(log.matching(/^chain facts are stale/).length, 1, "the transition is logged once");
  assert.equal(log.matching(/^chain facts are stale/)[0]?.level, 40, "at warn");

  // The RPC is back: the first good refresh lifts the refusal, and the bound counts from it.
  chain.state.failing.clear();
  chain.state.deposit = 9n;
  await facts.refresh();
  assert.equal(facts.stale(), undefined);
  assert.equal((await facts.senderInfo(SENDER)).deposit, 9n);
  assert.ok((await facts.maxFloat(SENDER)) > 0n);
  const fresh = log.matching(/^chain facts fresh again/);
  assert.equal(fresh.length, 1);
  assert.equal(fresh[0]?.stale_for_ms, 70_001);
  clock.t += 10_000;
  assert.equal((await facts.senderInfo(SENDER)).deposit, 9n);
});

test("the poll reports the facts stale with no traffic, and lifts the refusal on its own when the RPC answers", async () => {
  const chain = fakeChain();
  const clock = { t: 0 };
  const log = memoryLogger();
  await using facts = await start(chain, {
    now: () => clock.t,
    pollIntervalMs: 10,
    maxStalenessMs: 1_000,
    logger: log.logger,
  });
  chain.state.failing.add("*");
  clock.t += 1_001;
  await until("the stale report", () => log.matching(/^chain facts are stale/).length === 1, 5_000);
  await assert.rejects(async () => facts.senderInfo(SENDER), { code: "CHAIN_FACTS_STALE" });
  chain.state.failing.clear();
  await until("a good poll", () => facts.stale() === undefined, 5_000);
  assert.equal((await facts.senderInfo(SENDER)).deposit, 5n);
  assert.equal(log.matching(/^chain facts fresh again/).length, 1);
  assert.equal(log.matching(/^chain facts are stale/).length, 1);
});

test("with refuseWhenStale false (the gateway) stale facts are reported but keep answering; 0 trusts forever", async () => {
  const chain = fakeChain();
  const clock = { t: 0 };
  const log = memoryLogger();
  await using gateway = await start(chain, {
    now: () => clock.t,
    maxStalenessMs: 1_000,
    refuseWhenStale: false,
    logger: log.logger,
  });
  await using forever = await start(chain, { now: () => clock.t, maxStalenessMs: 0 });
  const float = await gateway.maxFloat(SENDER);
  assert.equal((await forever.senderInfo(SENDER)).deposit, 5n);
  chain.state.failing.add("*");
  clock.t += 3_600_000;
  assert.equal((await gateway.senderInfo(SENDER)).deposit, 5n);
  assert.equal(await gateway.maxFloat(SENDER), float);
  assert.equal(gateway.stale()?.code, "CHAIN_FACTS_STALE");
  assert.equal(log.matching(/^chain facts are stale.*payments continue/).length, 1);
  assert.equal((await forever.senderInfo(SENDER)).deposit, 5n);
  assert.equal(forever.stale(), undefined);
});

test("a negative bound is refused at start", async () => {
  await assert.rejects(start(fakeChain(), { maxStalenessMs: -1 }), RangeError);
});
