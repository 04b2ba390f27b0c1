/**
 * The gateway on the devnet (anvil + our contracts): the gateway's Sender runs on chain facts read with
 * viem against its funded deposit and reserve (startGatewayOnchain), the orchestrator's Recipient on
 * its own chain facts (startOnchainPayments); a priced BYOC job with the text-reverse SDK container
 * and a priced native AI job are paid with real tickets and run.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseEther } from "viem";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { createChainClients, type Devnet, fundSender, startDevnet } from "../../src/chain/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type GatewayOnchain, startGatewayOnchain } from "../../src/gateway/onchain.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import {
  type OnchainPayments,
  type RunningOrchestrator,
  startOnchainPayments,
  startOrchestrator,
} from "../../src/orchestrator/index.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";

/** Above the real redemption cost on anvil, which the recipient's EV must cover. */
const EV = 10n ** 15n;

describe("gateway on the devnet", () => {
  let devnet: Devnet;
  let dir: string;
  let reverse: RunningRunner;
  let llm: RunningRunner;
  let onchain: OnchainPayments;
  let gwChain: GatewayOnchain;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "gw-devnet-"));
    devnet = await startDevnet();
    const g = createChainClients({
      rpcUrl: devnet.rpcUrl,
      chainId: devnet.chainId,
      privateKey: devnet.accounts.gateway.privateKey,
    });
    await fundSender(g, devnet.contracts.ticketBroker, {
      deposit: parseEther("0.1"),
      reserve: parseEther("1"),
    });
    reverse = await startRunner(textReverse, { port: 0 });
    llm = await startRunner(
      defineBatchPipeline({ name: "llm", run: (i: { prompt: string }) => ({ text: `${i.prompt}!` }) }),
      { port: 0 },
    );
    onchain = await startOnchainPayments({
      network: "devnet",
      ethUrl: devnet.rpcUrl,
      privateKey: devnet.accounts.orchestrator.privateKey,
      dataDir: dir,
      contracts: devnet.contracts,
      ticketEV: EV,
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      health: { intervalMs: 100, failureThreshold: 1 },
      models: parseAiModels(
        JSON.stringify([{ pipeline: "llm", model_id: "paid-llm", url: llm.url, price_per_unit: 10 ** 12 }]),
      ),
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        `${orch.url}/capability/register`,
        { method: "POST", headers: { authorization: "s" }, ca: orch.cert, agent: false },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(
        JSON.stringify({ name: "text-reverse", url: reverse.url, capacity: 2, price_per_unit: 10 ** 12 }),
      );
    });
    assert.equal(status, 200);
    const end = Date.now() + 10_000;
    while (orch.registry.advertised().length < 2) {
      if (Date.now() > end) throw new Error("containers never healthy");
      await new Promise((r) => setTimeout(r, 25));
    }
    gwChain = await startGatewayOnchain({
      network: "devnet",
      ethUrl: devnet.rpcUrl,
      privateKey: devnet.accounts.gateway.privateKey,
      contracts: devnet.contracts,
      maxTicketEV: 10n * EV,
      maxTotalEV: 1000n * EV,
    });
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] }, payments: gwChain.payments });
  });

  after(async () => {
    await gw?.close();
    await gwChain?.close();
    await orch?.close();
    await onchain?.close();
    await reverse?.close();
    await llm?.close();
    await devnet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("priced BYOC and native AI jobs are paid with real tickets and run", async () => {
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
