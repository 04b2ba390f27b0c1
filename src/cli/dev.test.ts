import assert from "node:assert/strict";
import { test } from "node:test";
import type { DevNetworkSummary } from "../dev/network.ts";
import { formatSummary, progressLine } from "./dev.ts";
import { buildProgram } from "./main.ts";

const base: DevNetworkSummary = {
  mode: "offchain",
  readyMs: 1234,
  dataDir: "/tmp/x",
  gateway: {
    url: "http://127.0.0.1:8937",
    dashboard: "http://127.0.0.1:8937/dashboard",
    live: "http://127.0.0.1:8937/live",
    whip: "http://127.0.0.1:8937/live/video-to-video/obs/whip?pipeline=green-tint",
  },
  orchestrator: { url: "https://127.0.0.1:8935", secret: "dev-s3cret" },
  accounts: [],
  containers: [
    { name: "text-reverse", url: "http://127.0.0.1:40001", capability: "byoc/text-reverse" },
    { name: "green-tint", url: "http://127.0.0.1:40002", capability: "live-video-to-video/green-tint" },
  ],
  childPids: [],
};

test("dev is a subcommand of tributary with the documented options", () => {
  const dev = buildProgram().commands.find((c) => c.name() === "dev");
  assert.ok(dev);
  const flags = dev.options.map((o) => o.long);
  for (const f of [
    "--offchain",
    "--data-dir",
    "--persist",
    "--host",
    "--orchestrator-port",
    "--gateway-port",
    "--chain-port",
    "--json",
  ])
    assert.ok(flags.includes(f), f);
});

test("progress lines show the step, the time in seconds and the detail; failures say FAILED", () => {
  assert.equal(
    progressLine({ type: "ready", name: "orchestrator", index: 2, total: 4, ms: 120, detail: "https://x" }),
    "dev: [2/4] orchestrator ready in 0.12 s  https://x",
  );
  assert.equal(
    progressLine({ type: "starting", name: "chain", index: 1, total: 5 }),
    "dev: [1/5] starting chain…",
  );
  assert.match(
    progressLine({ type: "failed", name: "gw", error: new Error("EADDRINUSE") }) ?? "",
    /gw FAILED: EADDRINUSE/,
  );
  assert.equal(progressLine({ type: "stopping", name: "gw" }), undefined);
});

test("offchain summary: URLs, ready time, a curl through the gateway, no chain or accounts", () => {
  const text = formatSummary(base);
  assert.match(text, /\(offchain\) ready in 1\.23 s/);
  assert.match(text, /dashboard +http:\/\/127\.0\.0\.1:8937\/dashboard/);
  // the live page and a WHIP URL for OBS (issue 16)
  assert.match(text, /live page +http:\/\/127\.0\.0\.1:8937\/live /);
  assert.match(
    text,
    /WHIP \(OBS\) +http:\/\/127\.0\.0\.1:8937\/live\/video-to-video\/obs\/whip\?pipeline=green-tint/,
  );
  assert.match(text, /curl -s http:\/\/127\.0\.0\.1:8937\/text-reverse -H 'content-type: application\/json'/);
  assert.match(text, /Authorization: dev-s3cret/);
  assert.doesNotMatch(text, /chain RPC|Accounts/);
  // A live stream the way that stops itself and frees the slot, on the real gateway URL (issue 17),
  // not a bare curl that starts a paid stream nobody feeds or stops.
  assert.match(
    text,
    /tributary -- job live --gateway http:\/\/127\.0\.0\.1:8937 --model green-tint --testsrc --duration 10s/,
  );
  assert.doesNotMatch(text, /curl[^\n]*\/live\/video-to-video/);
});

test("devnet summary: chain, contracts, accounts with keys, a paid job through the gateway, the job token", () => {
  const text = formatSummary({
    ...base,
    mode: "devnet",
    chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337, contracts: { ticketBroker: "0xCf7E" } },
    accounts: [{ role: "gateway", address: "0x7099", privateKey: "0x59c6" }],
    signedEthAddressHeader: "ETHADDR",
  });
  assert.match(text, /chain RPC +http:\/\/127\.0\.0\.1:8545 +\(chain id 31337\)/);
  assert.match(text, /ticketBroker +0xCf7E/);
  assert.match(text, /0x7099 +key 0x59c6/);
  assert.match(text, /paid with tickets/);
  assert.match(text, /curl -si http:\/\/127\.0\.0\.1:8937\/text-reverse/);
  assert.match(text, /Livepeer-Eth-Address: ETHADDR/);
});
