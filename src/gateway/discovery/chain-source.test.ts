import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Address, zeroAddress } from "viem";
import { chainSource } from "./chain-source.ts";
import { DiscoveryError } from "./types.ts";

const BM = "0x00000000000000000000000000000000000000b0" as const;
const AI = "0x00000000000000000000000000000000000000a1" as const;
const SR = "0x00000000000000000000000000000000000000a2" as const;
const RM = "0x00000000000000000000000000000000000000a3" as const;
const o = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address;

interface FakeOrch {
  next: Address;
  stake: bigint;
  activation?: bigint;
  deactivation?: bigint;
  ai?: string;
  sr?: string;
}

/** A fake viem public client answering the reads chainSource makes. */
function fakeClient(first: Address, orchs: Record<Address, FakeOrch>, round = 10n, failOn?: string) {
  return {
    async readContract(args: { address: Address; functionName: string; args?: readonly unknown[] }) {
      if (args.functionName === failOn) throw new Error("HTTP request failed.\nURL: http://rpc");
      const who = args.args?.[0] as Address;
      const orch = orchs[who] as FakeOrch;
      switch (args.functionName) {
        case "getFirstTranscoderInPool":
          return first;
        case "getNextTranscoderInPool":
          return orch.next;
        case "transcoderTotalStake":
          return orch.stake;
        case "getTranscoder":
          return [
            0n,
            0n,
            0n,
            0n,
            orch.activation ?? 1n,
            orch.deactivation ?? 2n ** 256n - 1n,
            0n,
            0n,
            0n,
            0n,
          ];
        case "currentRound":
          return round;
        case "getServiceURI":
          return (args.address === AI ? orch.ai : orch.sr) ?? "";
        default:
          throw new Error(`unexpected ${args.functionName}`);
      }
    },
  } as never;
}

describe("chain source", () => {
  test("lists the pool in order, AI registry first, ServiceRegistry as fallback, and reports skips", async () => {
    const orchs: Record<Address, FakeOrch> = {
      [o(1)]: { next: o(2), stake: 9n, ai: "o1.example:8935", sr: "https://ignored:1" },
      [o(2)]: { next: o(3), stake: 8n, sr: "https://o2.example:8935/" },
      [o(3)]: { next: o(4), stake: 7n },
      [o(4)]: { next: o(5), stake: 6n, ai: "ftp://bad:1" },
      [o(5)]: { next: o(6), stake: 5n, ai: "https://o5:1", activation: 11n },
      [o(6)]: { next: o(7), stake: 4n, ai: "https://o6:1", deactivation: 10n },
      [o(7)]: { next: zeroAddress, stake: 3n, ai: "o1.example:8935" },
    };
    const skipped: [Address, string][] = [];
    const source = chainSource({
      publicClient: fakeClient(o(1), orchs),
      bondingManager: BM,
      aiServiceRegistry: AI,
      serviceRegistry: SR,
      roundsManager: RM,
      concurrency: 2,
      onSkip: (a, r) => skipped.push([a, r]),
    });
    const list = await source.list();
    assert.deepEqual(
      list.map((c) => [c.url, c.ethAddress, c.stake]),
      [
        ["https://o1.example:8935", o(1), 9n],
        ["https://o2.example:8935", o(2), 8n],
      ],
    );
    assert.deepEqual(
      skipped.map(([a, r]) => [a, r.split(" ")[0]]),
      [
        [o(3), "no"],
        [o(4), "invalid"],
        [o(5), "not"],
        [o(6), "not"],
        [o(7), "service"],
      ],
    );
  });

  test("without a RoundsManager the activation window is not checked", async () => {
    const orchs: Record<Address, FakeOrch> = {
      [o(1)]: { next: zeroAddress, stake: 1n, ai: "a:1", activation: 99n },
    };
    const list = await chainSource({
      publicClient: fakeClient(o(1), orchs),
      bondingManager: BM,
      aiServiceRegistry: AI,
    }).list();
    assert.equal(list.length, 1);
  });

  test("a cyclic pool list stops at the first repeat", async () => {
    const orchs: Record<Address, FakeOrch> = {
      [o(1)]: { next: o(2), stake: 2n, ai: "a:1" },
      [o(2)]: { next: o(1), stake: 1n, ai: "b:1" },
    };
    const list = await chainSource({
      publicClient: fakeClient(o(1), orchs),
      bondingManager: BM,
      serviceRegistry: SR,
      aiServiceRegistry: AI,
    }).list();
    assert.equal(list.length, 2);
  });

  test("an RPC failure is DISCOVERY_CHAIN_FAILED (503) with the first line of the cause", async () => {
    const orchs: Record<Address, FakeOrch> = { [o(1)]: { next: zeroAddress, stake: 1n } };
    const err = await chainSource({
      publicClient: fakeClient(o(1), orchs, 10n, "transcoderTotalStake"),
      bondingManager: BM,
      aiServiceRegistry: AI,
    })
      .list()
      .catch((e: unknown) => e);
    assert.ok(err instanceof DiscoveryError);
    assert.equal(err.code, "DISCOVERY_CHAIN_FAILED");
    assert.equal(err.status, 503);
    assert.match(err.message, /HTTP request failed;/);
  });

  test("a source needs at least one registry", () => {
    assert.throws(
      () => chainSource({ publicClient: fakeClient(o(1), {}), bondingManager: BM }),
      /needs aiServiceRegistry or serviceRegistry/,
    );
  });
});
