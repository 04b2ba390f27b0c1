import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Address, zeroAddress } from "viem";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import { OrchestratorRequestError } from "../discovery/grpc-client.ts";
import { OFFCHAIN_CREDENTIALS } from "../discovery/request.ts";
import { readActiveSet } from "./active-set.ts";
import { createExplorerSource } from "./source.ts";

const BM = "0x00000000000000000000000000000000000000b0" as const;
const SR = "0x00000000000000000000000000000000000000a2" as const;
const RM = "0x00000000000000000000000000000000000000a3" as const;
const o = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address;

/** A fake viem client: a pool of three, the third with no service URI and not yet active. */
function fakeClient() {
  const orchs: Record<Address, { next: Address; stake: bigint; uri: string; activation: bigint }> = {
    [o(1)]: { next: o(2), stake: 300n, uri: "https://a:8935", activation: 1n },
    [o(2)]: { next: o(3), stake: 200n, uri: "b:8935", activation: 1n },
    [o(3)]: { next: zeroAddress, stake: 100n, uri: "", activation: 50n },
  };
  return {
    async readContract(args: { address: Address; functionName: string; args?: readonly unknown[] }) {
      const who = orchs[args.args?.[0] as Address];
      switch (args.functionName) {
        case "getFirstTranscoderInPool":
          return o(1);
        case "getNextTranscoderInPool":
          return who?.next;
        case "transcoderTotalStake":
          return who?.stake;
        case "getTranscoder":
          return [0n, 100_000n, 900_000n, 0n, who?.activation, 2n ** 256n - 1n, 0n, 0n, 0n, 0n];
        case "currentRound":
          return 10n;
        case "getServiceURI":
          return who?.uri;
        default:
          throw new Error(`unexpected ${args.functionName}`);
      }
    },
  } as never;
}

function info(capacity: number, inUse: number) {
  return create(OrchestratorInfoSchema, {
    transcoder: "https://a:8935",
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      constraints: {
        PerCapability: {
          [CAPABILITY.TextToImage]: { models: { sd: { warm: true, capacity, capacityInUse: inUse } } },
        },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: "sd", pricePerUnit: 2n, pixelsPerUnit: 1n },
    ],
  });
}

describe("explorer active set", () => {
  test("keeps every pool member with its cuts, window and URI, marking who is active this round", async () => {
    const set = await readActiveSet({
      publicClient: fakeClient(),
      bondingManager: BM,
      serviceRegistry: SR,
      roundsManager: RM,
    });
    assert.equal(set.round, 10n);
    assert.deepEqual(
      set.members.map((m) => [m.address, m.stake, m.rewardCut, m.feeShare, m.serviceUri, m.active]),
      [
        [o(1), 300n, 100_000n, 900_000n, "https://a:8935", true],
        [o(2), 200n, 100_000n, 900_000n, "b:8935", true],
        [o(3), 100n, 100_000n, 900_000n, "", false],
      ],
    );
  });

  test("an RPC failure is a DISCOVERY_CHAIN_FAILED error naming the BondingManager", async () => {
    const client = {
      readContract: async () => {
        throw new Error("HTTP request failed.\nURL: http://rpc");
      },
    } as never;
    await assert.rejects(
      readActiveSet({ publicClient: client, bondingManager: BM, serviceRegistry: SR }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "DISCOVERY_CHAIN_FAILED");
        assert.match(err.message, new RegExp(BM));
        return true;
      },
    );
  });
});

describe("explorer source", () => {
  test("probes the chain's set without paying, counts a capacity refusal as busy, and feeds the page", async () => {
    const answers: Record<string, () => ReturnType<typeof info>> = {
      "https://a:8935": () => info(2, 1),
      "https://b:8935": () => {
        throw new OrchestratorRequestError("https://b:8935", "resource_exhausted", "insufficient capacity");
      },
    };
    const asked: string[] = [];
    const source = createExplorerSource({
      activeSet: () =>
        readActiveSet({
          publicClient: fakeClient(),
          bondingManager: BM,
          serviceRegistry: SR,
          roundsManager: RM,
        }),
      orchestrators: ["c:8935"],
      credentials: OFFCHAIN_CREDENTIALS,
      fetchInfo: async (url, request) => {
        asked.push(url);
        assert.equal(request.sig.length, 0, "offchain credentials, no payment");
        const answer = answers[url];
        if (answer === undefined)
          throw new OrchestratorRequestError(url, "unavailable", "connect ECONNREFUSED");
        return answer();
      },
      intervalMs: 60_000,
    });
    try {
      await source.refresh();
      assert.deepEqual(asked.sort(), ["https://a:8935", "https://b:8935", "https://c:8935"]);
      const view = source.view();
      assert.equal(view.round, "10");
      assert.deepEqual(
        view.orchestrators.map((x) => [x.url, x.state]),
        [
          ["https://a:8935", "ok"],
          ["https://b:8935", "busy"],
          [o(3), "unknown"],
          ["https://c:8935", "unreachable"],
        ],
      );
      assert.equal(view.capabilities[0]?.key, "text-to-image/sd");
      assert.equal(view.capabilities[0]?.free, 1);
      const page = source.snapshot();
      assert.equal(page.version, 1);
      assert.deepEqual(
        page.orchestrators.map((x) => [x.url, x.health]),
        [
          ["https://a:8935", "healthy"],
          ["https://b:8935", "healthy"],
          [o(3), "absent"],
          ["https://c:8935", "unreachable"],
        ],
      );
      assert.equal(page.orchestrators[1]?.failures, 0, "a capacity refusal is not a failure");
      assert.equal(page.orchestrators[3]?.failures, 1);
      assert.deepEqual(
        source.descriptors().map((d) => d.url),
        ["https://a:8935"],
      );
    } finally {
      source.close();
    }
  });
});
