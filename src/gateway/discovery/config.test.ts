import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discoverySourceFromConfig } from "./config.ts";

describe("discovery source precedence (go-livepeer starter)", () => {
  const chain = {
    publicClient: {} as never,
    bondingManager: "0x0000000000000000000000000000000000000001" as const,
    serviceRegistry: "0x0000000000000000000000000000000000000002" as const,
  };

  test("the webhook wins over --orch-addr and the chain", () => {
    const r = discoverySourceFromConfig({ orchWebhookUrl: "http://127.0.0.1:9/x", orchAddr: "a:1", chain });
    assert.equal(r.kind, "webhook");
  });

  test("--orch-addr wins over the chain", async () => {
    const r = discoverySourceFromConfig({ orchAddr: "a:1,b:2", chain });
    assert.equal(r.kind, "static");
    assert.deepEqual(
      (await r.source.list()).map((c) => c.url),
      ["https://a:1", "https://b:2"],
    );
  });

  test("on-chain mode uses the pool when nothing else is set, before a remote signer", () => {
    assert.equal(
      discoverySourceFromConfig({ orchAddr: " ", chain, remoteSignerUrl: "http://s:1" }).kind,
      "chain",
    );
  });

  test("the remote signer's /discover-orchestrators is the last resort", () => {
    const r = discoverySourceFromConfig({ remoteSignerUrl: "http://signer:8081/base" });
    assert.equal(r.kind, "remote-signer");
    assert.equal(r.source.name, "webhook http://signer:8081/discover-orchestrators");
  });

  test("nothing configured is a 400 NO_DISCOVERY_SOURCE", () => {
    assert.throws(() => discoverySourceFromConfig({}), { code: "NO_DISCOVERY_SOURCE", status: 400 });
  });
});
