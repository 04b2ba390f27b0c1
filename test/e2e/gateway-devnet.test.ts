/**
 * The gateway on the devnet (anvil + our contracts): the gateway's Sender runs on chain facts read with
 * viem against its funded deposit and reserve (startGatewayOnchain), the orchestrator's Recipient on
 * its own chain facts (startOnchainPayments); a priced BYOC job with the text-reverse SDK container
 * and a priced native AI job are paid with real tickets and run.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseEther } from "viem";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { defineBatchPipeline, startRunner } from "../../src/runner/index.ts";
import { devnetFixture } from "../devnet.ts";
import { until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

/** Above the real redemption cost on anvil, which the recipient's EV must cover. */
const EV = 10n ** 15n;

describe("gateway on the devnet", () => {
  test("priced BYOC and native AI jobs are paid with real tickets and run", async () => {
    await using net = await devnetFixture({
      fundGateway: { deposit: parseEther("0.1"), reserve: parseEther("1") },
    });
    const reverse = net.use(await startRunner(textReverse, { port: 0 }));
    const llm = net.use(
      await startRunner(
        defineBatchPipeline({ name: "llm", run: (i: { prompt: string }) => ({ text: `${i.prompt}!` }) }),
        { port: 0 },
      ),
    );
    const onchain = await net.orchestratorPayments({ ticketEV: EV });
    const orch = net.use(
      await startOrchestrator({
        port: 0,
        dataDir: net.dir,
        orchSecret: "s",
        network: "devnet",
        payments: onchain.gate,
        address: onchain.address,
        health: { intervalMs: 100, failureThreshold: 1 },
        models: parseAiModels(
          JSON.stringify([{ pipeline: "llm", model_id: "paid-llm", url: llm.url, price_per_unit: 10 ** 12 }]),
        ),
      }),
    );
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({ name: "text-reverse", url: reverse.url, capacity: 2, price_per_unit: 10 ** 12 }),
    });
    assert.equal(reg.status, 200);
    await until("the containers to be healthy", () => orch.registry.advertised().length >= 2);
    const gwChain = await net.gatewayPayments({ maxTicketEV: 10n * EV, maxTotalEV: 1000n * EV });
    const gw = net.use(
      await startGateway({ port: 0, discovery: { orchAddr: [orch.url] }, payments: gwChain.payments }),
    );

    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "chain" }),
    });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.deepEqual(JSON.parse(body), { text: "niahc" });
    assert.ok(BigInt(String(r.headers.get("livepeer-balance"))) > 0n);
    const ai = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "paid-llm", prompt: "hi", max_tokens: 10 }),
    });
    const aiBody = await ai.text();
    assert.equal(ai.status, 200, aiBody);
    assert.deepEqual(JSON.parse(aiBody), { text: "hi!" });
  });
});
