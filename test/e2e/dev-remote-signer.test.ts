/**
 * `tributary dev --remote-signer` in process: the devnet with the gateway and a remote signer split.
 * The signer holds the funded gateway account; the gateway pays a text-reverse job through it with
 * the summary's bearer token, and the orchestrator's `Livepeer-Balance` shows the signer's credit.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startDevNetwork } from "../../src/dev/network.ts";

test("dev network with --remote-signer: a paid BYOC job through the keyless gateway and the signer", async () => {
  const events: string[] = [];
  const net = await startDevNetwork({
    remoteSigner: true,
    orchestratorPort: 0,
    gatewayPort: 0,
    chainPort: 0,
    onEvent: (e) => events.push(`${e.type} ${e.name}`),
  });
  try {
    const s = net.summary;
    assert.equal(s.mode, "devnet");
    assert.ok(s.signer, "the summary names the signer");
    const gatewayAccount = s.accounts.find((a) => a.role.startsWith("gateway"));
    assert.equal(s.signer.address.toLowerCase(), gatewayAccount?.address.toLowerCase());
    assert.ok(
      events.some((e) => e.startsWith("ready remote signer")),
      events.join("; "),
    );
    const res = await fetch(`${s.gateway!.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "abc" }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.deepEqual(JSON.parse(text), { text: "cba" });
    const metrics = await (await fetch(`${s.signer.url}/metrics`)).text();
    assert.match(metrics, /tributary_signer_tickets_total\{app="dev-gateway"[^}]*\} [1-9]/);
    // Without the token the signer refuses.
    const refused = await fetch(`${s.signer.url}/sign-orchestrator-info`, { method: "POST", body: "{}" });
    assert.equal(refused.status, 401);
  } finally {
    await net.stop();
  }
});
