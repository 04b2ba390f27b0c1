/**
 * The remote signer on the devnet (anvil + our contracts), as a keyless client uses it: the client
 * gets the signer's address and signature for GetOrchestrator, asks our orchestrator for its info,
 * has the signer sign the BYOC job (V1) and make the payment, and sends the job. The orchestrator
 * accepts the tickets, credits the signer's balance for the capability, runs the job, stores the
 * winners and its redeemer redeems them on chain. Then 48 concurrent payments on one set of ticket
 * params carry distinct nonces the orchestrator all accepts, a signer restarted on the same data
 * directory continues the nonces, and a second signer on a held data directory is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { hexToBytes, parseEther } from "viem";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { mineBlocks, readSenderInfo } from "../../src/chain/index.ts";
import { createGrpcOrchestratorClient } from "../../src/gateway/discovery/index.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { OrchestratorInfoSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { decodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { startRunner } from "../../src/runner/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { devnetFixture } from "../devnet.ts";
import { poll, until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

/** Above the real redemption cost on anvil, which the redeemer checks. */
const EV = 10n ** 15n;
/** Wei per second of the capability: 60 s (the signer's BYOC payment) is 6e14, one ticket. */
const PRICE_PER_SECOND = 10n ** 13n;
const TOKEN = "app-one-token-0123456789";

test("remote signer on the devnet: a keyless client pays our orchestrator; nonces unique under load and across a restart; one signer per data directory", async (t) => {
  await using net = await devnetFixture({
    // Long rounds: redeeming a block per winner must not cross into an uninitialized round.
    roundLength: 1000,
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const runner = net.use(await startRunner(textReverse, { port: 0 }));
  const onchain = await net.orchestratorPayments({ ticketEV: EV, maxFaceValue: EV + 1n });
  const orch = net.use(
    await startOrchestrator({
      port: 0,
      dataDir: net.dir,
      orchSecret: "s",
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      health: { intervalMs: 100, failureThreshold: 1 },
    }),
  );
  const reg = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "text-reverse",
      url: runner.url,
      capacity: 4,
      price_per_unit: Number(PRICE_PER_SECOND),
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  await poll(() => orch.registry.advertised().some((a) => a.modelId === "text-reverse"));

  const signerDir = `${net.dir}/signer`;
  const signerOptions = {
    port: 0,
    dataDir: signerDir,
    network: "devnet" as const,
    ethUrl: devnet.rpcUrl,
    contracts: devnet.contracts,
    privateKey: devnet.accounts.gateway.privateKey,
    maxTicketEV: 10n * EV,
    maxTotalEV: 1000n * EV,
    pollIntervalMs: 200,
    tokens: new Map([[TOKEN, "app-one"]]),
    discovery: { orchAddr: [orch.url] },
  };
  let signer = await startSigner(signerOptions);
  t.after(() => signer.close());
  const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const post = async (path: string, body: unknown, headers: Record<string, string> = auth) => {
    const r = await fetch(`${signer.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  const grpc = createGrpcOrchestratorClient();
  t.after(() => grpc.close());
  const infoFor = async () => {
    const s = await post("/sign-orchestrator-info", {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    return grpc.getOrchestrator(orch.url, {
      $typeName: "net.OrchestratorRequest",
      address: hexToBytes(s.body.address as `0x${string}`),
      sig: hexToBytes(s.body.signature as `0x${string}`),
      ignoreCapacityCheck: false,
    } as never);
  };
  const pay = (info: Awaited<ReturnType<typeof infoFor>>, extra: Record<string, unknown> = {}) =>
    post("/generate-live-payment", {
      orchestrator: Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64"),
      type: "lv2v",
      capability: "text-reverse",
      ...extra,
    });

  await t.test("without the token the signer refuses", async () => {
    const r = await post("/sign-orchestrator-info", {}, { "content-type": "application/json" });
    assert.equal(r.status, 401);
  });

  await t.test("discovery through the signer finds the orchestrator and its capability", async () => {
    await until("discovery", async () => {
      const r = await fetch(`${signer.url}/discover-orchestrators?caps=text-reverse`, { headers: auth });
      if (r.status !== 200) return false;
      const list = (await r.json()) as { address: string; capabilities: string[] }[];
      return list.some((o) => o.address === orch.url && o.capabilities.includes("text-reverse"));
    });
  });

  await t.test(
    "a BYOC job signed and paid by the signer runs, is credited, and its winner is redeemed",
    async () => {
      const info = await infoFor();
      const job = {
        id: "job-1",
        capability: "text-reverse",
        request: JSON.stringify({ text: "abc" }),
        parameters: "",
        timeout_seconds: 30,
      };
      const signed = await post("/sign-byoc-job", job);
      assert.equal(signed.status, 200, JSON.stringify(signed.body));
      assert.equal((signed.body.sender as string).toLowerCase(), signer.address.toLowerCase());
      const payment = await pay(info);
      assert.equal(payment.status, 200, JSON.stringify(payment.body));
      const header = Buffer.from(
        JSON.stringify({ ...job, sender: signed.body.sender, sig: signed.body.signature }),
      ).toString("base64");
      const res = await call(orch, "/process/request/text-reverse", {
        method: "POST",
        headers: {
          livepeer: header,
          "livepeer-capability": "text-reverse",
          "livepeer-payment": payment.body.payment as string,
          "livepeer-segment": payment.body.segCreds as string,
          "content-type": "application/json",
        },
        body: job.request,
      });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), { text: "cba" });
      const credit = onchain.gate.balance(signer.address as `0x${string}`, "text-reverse");
      assert.ok(credit.cmp(0n) > 0, `credited ${credit}`);
      const won = onchain.store.listWinningTickets({ limit: 10 });
      assert.ok(
        won.length >= 1 && won.every((w) => w.ticket.sender.toLowerCase() === signer.address.toLowerCase()),
      );
      const metrics = await (await fetch(`${signer.url}/metrics`)).text();
      assert.match(metrics, /tributary_signer_tickets_total\{app="app-one"[^}]*\} 1\b/);
    },
  );

  const seen = new Set<number>();
  let sharedInfo: Awaited<ReturnType<typeof infoFor>>;
  await t.test(
    "48 concurrent payments on one set of ticket params: distinct nonces, all accepted",
    async () => {
      sharedInfo = await infoFor();
      const results = await Promise.all(Array.from({ length: 48 }, () => pay(sharedInfo)));
      for (const r of results) {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        for (const p of decodePaymentHeader(r.body.payment as string).senderParams) {
          assert.ok(!seen.has(p.senderNonce), `nonce ${p.senderNonce} reused`);
          seen.add(p.senderNonce);
        }
      }
      assert.equal(seen.size, 48);
      const accepted = await Promise.all(
        results.map((r) =>
          call(orch, "/payment", {
            method: "POST",
            headers: {
              "livepeer-payment": r.body.payment as string,
              "livepeer-segment": r.body.segCreds as string,
            },
          }),
        ),
      );
      for (const a of accepted) assert.equal(a.status, 200, a.body);
    },
  );

  await t.test("restarted on its data directory, the signer continues the nonces", async () => {
    await signer.close();
    signer = await startSigner(signerOptions);
    const r = await pay(sharedInfo);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const nonces = decodePaymentHeader(r.body.payment as string).senderParams.map((p) => p.senderNonce);
    assert.deepEqual(nonces, [Math.max(...seen) + 1]);
    const a = await call(orch, "/payment", {
      method: "POST",
      headers: {
        "livepeer-payment": r.body.payment as string,
        "livepeer-segment": r.body.segCreds as string,
      },
    });
    assert.equal(a.status, 200, a.body);
  });

  await t.test("a second signer on the same data directory is refused", async () => {
    await assert.rejects(
      startSigner({ ...signerOptions }),
      (err: Error & { code?: string }) => err.code === "DATA_DIR_LOCKED",
    );
  });

  await t.test("every winner is redeemed on chain; the deposit paid exactly their face values", async () => {
    await mineBlocks(devnet.rpcUrl, 45);
    const won = onchain.store.listWinningTickets({ limit: 200 });
    assert.ok(won.length >= 50, `stored ${won.length}`);
    const redeemed = () =>
      won.filter((w) => onchain.store.getWinningTicket(w.id)?.status === "redeemed").length;
    await until(
      () => `winners to be redeemed (${redeemed()} of ${won.length})`,
      async () => {
        await onchain.redeemer.runOnce();
        return redeemed() === won.length;
      },
      90_000,
      250,
    );
    const info = await readSenderInfo(
      net.clients("gateway"),
      devnet.contracts.ticketBroker,
      signer.address as `0x${string}`,
    );
    const face = won.reduce((sum, w) => sum + w.ticket.faceValue, 0n);
    assert.equal(parseEther("1") - info.deposit, face);
  });
});
