/**
 * The CLI's defaults are the library's: each flag whose library option has a default takes it from
 * the library's named constant, so the two cannot drift apart. A flag given a literal that differs
 * from the constant (or a help label that no longer reads back as the value) fails here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command, Option } from "commander";
import { DEFAULT_CHAIN_PORT, DEFAULT_ROUND_LENGTH } from "../chain/index.ts";
import { DEFAULT_REFRESH_INTERVAL_MS } from "../gateway/discovery/index.ts";
import {
  DEFAULT_BYOC_PAYMENT_INTERVAL_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_GATEWAY_PORT,
} from "../gateway/index.ts";
import { DEFAULT_STRATEGY } from "../gateway/selection/index.ts";
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS as DEFAULT_HTTP2_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_SESSION_UPLOAD_BYTES,
} from "../node/http/limits.ts";
import {
  DEFAULT_HEALTH_FAILURES,
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_SERVICE_PORT,
} from "../orchestrator/index.ts";
import {
  DEFAULT_MAX_CHAIN_STALENESS_MS,
  DEFAULT_MAX_TICKET_EV,
  DEFAULT_MAX_TICKETS_PER_PAYMENT,
  DEFAULT_MAX_TOTAL_EV,
  DEFAULT_TARGET_TICKETS_PER_PAYMENT,
  DEFAULT_TICKET_EV,
} from "../payments/index.ts";
import { DEFAULT_RUNNER_PORT } from "../runner/index.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_STALL_TIMEOUT_MS, DEFAULT_TRICKLE_PORT } from "../trickle/index.ts";
import { devCommand } from "./dev.ts";
import { devnetCommand } from "./devnet.ts";
import { gatewayCommand } from "./gateway.ts";
import { byteSizeLabel, parseByteSize } from "./http-limits.ts";
import { DEFAULT_GATEWAY_URL } from "./job.ts";
import { durationLabel, parseDuration } from "./options.ts";
import { orchestratorCommand } from "./orchestrator.ts";
import { serveCommand } from "./serve.ts";
import { trickleCommand } from "./trickle.ts";

function option(command: Command, long: string): Option {
  const o = command.options.find((x) => x.long === long);
  assert.ok(o, `${command.name()} has ${long}`);
  return o;
}

const defaultOf = (command: Command, long: string): unknown => option(command, long).defaultValue;

/** A duration flag: its default is `ms`, and the help label reads back as `ms`. */
function assertDuration(command: Command, long: string, ms: number): void {
  const o = option(command, long);
  assert.equal(o.defaultValue, ms, `${command.name()} ${long}`);
  assert.equal(parseDuration(String(o.defaultValueDescription)), ms, `${command.name()} ${long} label`);
}

test("orchestrator flags default to the orchestrator's and the payments' constants", () => {
  const c = orchestratorCommand();
  assert.equal((defaultOf(c, "--service-addr") as { port: number }).port, DEFAULT_SERVICE_PORT);
  assertDuration(c, "--health-interval", DEFAULT_HEALTH_INTERVAL_MS);
  assertDuration(c, "--health-timeout", DEFAULT_HEALTH_TIMEOUT_MS);
  assert.equal(defaultOf(c, "--health-failures"), DEFAULT_HEALTH_FAILURES);
  assertDuration(c, "--max-chain-staleness", DEFAULT_MAX_CHAIN_STALENESS_MS);
  // Left unset so the library applies its default; the help names that default.
  assert.match(option(c, "--ticket-ev").description, new RegExp(`default ${DEFAULT_TICKET_EV}\\)`));
  assert.match(
    option(c, "--target-tickets-per-payment").description,
    new RegExp(`default ${DEFAULT_TARGET_TICKETS_PER_PAYMENT}\\)`),
  );
});

test("gateway flags default to the gateway's and the payments' constants", () => {
  const c = gatewayCommand();
  assert.equal((defaultOf(c, "--http-addr") as { port: number }).port, DEFAULT_GATEWAY_PORT);
  assertDuration(c, "--live-event-timeout", DEFAULT_EVENT_TIMEOUT_MS);
  assertDuration(c, "--refresh-interval", DEFAULT_REFRESH_INTERVAL_MS);
  assertDuration(c, "--byoc-stream-payment-interval", DEFAULT_BYOC_PAYMENT_INTERVAL_MS);
  assert.equal(defaultOf(c, "--max-tickets-per-payment"), DEFAULT_MAX_TICKETS_PER_PAYMENT);
  assert.equal(defaultOf(c, "--selection-strategy"), DEFAULT_STRATEGY);
  assert.match(option(c, "--max-ticket-ev").description, new RegExp(`default ${DEFAULT_MAX_TICKET_EV}\\)`));
  assert.match(option(c, "--max-total-ev").description, new RegExp(`default ${DEFAULT_MAX_TOTAL_EV}\\)`));
});

test("HTTP limit flags default to node/http/limits.ts and their labels read back", () => {
  const c = orchestratorCommand();
  for (const [long, bytes] of [
    ["--max-header-bytes", DEFAULT_MAX_HEADER_BYTES],
    ["--http2-max-upload-bytes", DEFAULT_MAX_SESSION_UPLOAD_BYTES],
  ] as const) {
    const o = option(c, long);
    assert.equal(o.defaultValue, bytes, long);
    assert.equal(parseByteSize(String(o.defaultValueDescription)), bytes, `${long} label`);
  }
  assertDuration(c, "--headers-timeout", DEFAULT_HEADERS_TIMEOUT_MS);
  assertDuration(c, "--http2-idle-timeout", DEFAULT_HTTP2_IDLE_TIMEOUT_MS);
  assert.equal(defaultOf(c, "--http2-max-streams"), DEFAULT_MAX_CONCURRENT_STREAMS);
  assertDuration(gatewayCommand(), "--headers-timeout", DEFAULT_HEADERS_TIMEOUT_MS);
});

test("trickle, serve, dev and devnet ports and timeouts are the library's", () => {
  const trickle = trickleCommand();
  assert.equal(defaultOf(trickle, "--port"), DEFAULT_TRICKLE_PORT);
  assertDuration(trickle, "--idle-timeout", DEFAULT_IDLE_TIMEOUT_MS);
  assertDuration(trickle, "--stall-timeout", DEFAULT_STALL_TIMEOUT_MS);
  assert.equal(defaultOf(serveCommand(), "--port"), DEFAULT_RUNNER_PORT);
  const dev = devCommand();
  assert.equal(defaultOf(dev, "--orchestrator-port"), DEFAULT_SERVICE_PORT);
  assert.equal(defaultOf(dev, "--gateway-port"), DEFAULT_GATEWAY_PORT);
  assert.equal(defaultOf(dev, "--chain-port"), DEFAULT_CHAIN_PORT);
  const devnet = devnetCommand();
  assert.equal(defaultOf(devnet, "--port"), DEFAULT_CHAIN_PORT);
  assert.equal(defaultOf(devnet, "--round-length"), DEFAULT_ROUND_LENGTH);
});

test("the job client's default gateway URL is on the gateway's default port", () => {
  // A literal on purpose: `tributary job` does not load the gateway's modules.
  assert.equal(Number(new URL(DEFAULT_GATEWAY_URL).port), DEFAULT_GATEWAY_PORT);
});

test("durationLabel and byteSizeLabel use the largest unit that divides the value", () => {
  assert.deepEqual([300_000, 30_000, 1500, 480_000].map(durationLabel), ["5m", "30s", "1500ms", "8m"]);
  assert.deepEqual([1024 * 1024, 64 * 1024 * 1024, 1536, 1000].map(byteSizeLabel), [
    "1MiB",
    "64MiB",
    "1536",
    "1000",
  ]);
});
