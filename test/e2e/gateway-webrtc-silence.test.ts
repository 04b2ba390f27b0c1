/**
 * A WHIP stream is paid like any live stream, and a publisher that goes silent stops it and its
 * payments: against a priced orchestrator (payment gate over an in-memory Recipient, no chain), a
 * werift publisher sends H.264 by WHIP while the gateway tops the stream up; the publisher then stops
 * sending but keeps its peer connection open. After `whipSilenceTimeoutMs` (--whip-silence-timeout)
 * the gateway stops the stream, and no ticket reaches the orchestrator after that.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { H264Packetizer, MediaStreamTrack, RTCPeerConnection } from "werift";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { H264_CODEC } from "../../src/gateway/webrtc/peer.ts";
import { type AccessUnit, TsH264Reader } from "../../src/gateway/webrtc/ts.ts";
import { syntheticSegments } from "../../src/media/synthetic.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Sender } from "../../src/payments/sender.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import { defineLivePipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gwKey = privateKeyToAccount(`0x${"43".repeat(32)}`);
const SILENCE_MS = 1_500;
const PAYMENT_INTERVAL_MS = 200;

const dir = mkdtempSync(join(tmpdir(), "gw-whip-silence-"));
const winners: SignedTicket[] = [];
let seed = 0;
let live: RunningRunner;
let orch: RunningOrchestrator;
let gw: RunningGateway;
let units: AccessUnit[];

before(async () => {
  const segs = await syntheticSegments({ width: 160, height: 120, fps: 15, seconds: 2, audio: false });
  const reader = new TsH264Reader();
  units = segs.flatMap((s) => [...reader.push(s), ...reader.flush()]);
  live = await startRunner(defineLivePipeline({ name: "paid-live", start: () => {} }), { port: 0 });
  const gate = new PaymentGate({
    recipient: inMemoryRecipient(ORCH, 1000n, (n) => new Uint8Array(n).fill(++seed)),
    balances: new Balances(),
    enqueueWinner: (t) => winners.push(t),
    isActive: () => true,
  });
  orch = await startOrchestrator({
    port: 0,
    dataDir: dir,
    orchSecret: "s",
    network: "devnet",
    payments: gate,
    address: ORCH,
    health: { intervalMs: 100, failureThreshold: 1 },
    livePaymentIntervalMs: 300,
    streamCheckIntervalMs: 100,
    models: parseAiModels(
      JSON.stringify([
        {
          pipeline: "live-video-to-video",
          model_id: "paid-live",
          url: live.url,
          price_per_unit: 1,
          pixels_per_unit: 1280 * 720 * 30,
        },
      ]),
    ),
  });
  await until("paid-live advertised", () =>
    orch.registry.advertised().some((a) => a.key === "live-video-to-video/paid-live"),
  );
  gw = await startGateway({
    port: 0,
    discovery: { orchAddr: [orch.url] },
    payments: { signer: gwKey, sender: new Sender({ signer: gwKey, time, senders }) },
    livePaymentIntervalMs: PAYMENT_INTERVAL_MS,
    whipSilenceTimeoutMs: SILENCE_MS,
  });
});

after(async () => {
  await gw?.close();
  await orch?.close();
  await live?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a WHIP publisher that stops sending (its peer still connected) stops its stream after --whip-silence-timeout, and the payments stop", async () => {
  const pub = new RTCPeerConnection({
    codecs: { video: [H264_CODEC()] },
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ["127.0.0.1"],
  });
  const track = new MediaStreamTrack({ kind: "video" });
  pub.addTransceiver(track, { direction: "sendonly" });
  let sending = true;
  let lastSent = 0;
  let sender: Promise<void> | undefined;
  try {
    await pub.setLocalDescription(await pub.createOffer());
    await until("gathered", () => pub.iceGatheringState === "complete");
    const r = await fetch(`${gw.url}/live/video-to-video/quiet1/whip?pipeline=paid-live`, {
      method: "POST",
      headers: { "content-type": "application/sdp" },
      body: pub.localDescription?.sdp ?? "",
    });
    assert.equal(r.status, 201, await r.clone().text());
    const status = (r.headers.get("location") ?? "").replace("/whip?", "/status?");
    await pub.setRemoteDescription({ type: "answer", sdp: await r.text() });
    await until("publisher connected", () => pub.connectionState === "connected");
    const packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
    sender = (async () => {
      for (let i = 0; sending; i++) {
        const au = units[i % units.length] as AccessUnit;
        for (const p of packetizer.packetize(au.data, (i * 6000) % 2 ** 32, { isKeyframe: au.keyframe }))
          track.writeRtp(p);
        lastSent = Date.now();
        await new Promise((res) => setTimeout(res, 66));
      }
    })();
    type Status = { state?: string; payments?: number; segments_in?: number };
    let st: Status = {};
    await until(
      () => `the stream runs and is topped up (${JSON.stringify(st)})`,
      async () => {
        st = (await (await fetch(status)).json()) as Status;
        return st.state === "running" && (st.payments ?? 0) >= 3 && (st.segments_in ?? 0) >= 1;
      },
      20_000,
    );
    const paidWhileSending = winners.length;
    assert.ok(paidWhileSending >= 3, `tickets while sending: ${paidWhileSending}`);

    // the publisher goes quiet: no RTP, but its peer connection stays up
    sending = false;
    await sender;
    let stoppedAt = 0;
    await until(
      "the silent stream is stopped",
      async () => {
        const s = await fetch(status);
        const stopped = s.status === 404 || ((await s.json()) as Status).state === "stopped";
        if (stopped) stoppedAt = Date.now();
        return stopped;
      },
      SILENCE_MS + 8_000,
    );
    const silentFor = stoppedAt - lastSent;
    assert.ok(
      silentFor >= SILENCE_MS - 100,
      `stopped ${silentFor} ms after the last packet, not before the timeout`,
    );
    assert.equal(
      pub.connectionState,
      "connected",
      "it was the silence, not a failed connection, that stopped it",
    );

    const atStop = winners.length;
    await new Promise((res) => setTimeout(res, PAYMENT_INTERVAL_MS * 8));
    assert.equal(winners.length, atStop, "no ticket reached the orchestrator after the stream stopped");
  } finally {
    sending = false;
    await sender;
    await pub.close();
  }
});
