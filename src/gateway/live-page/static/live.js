// Tributary live page: publish the camera by WHIP, play the processed output by WHEP, change params,
// show fps, glass-to-glass latency and cost. Talks only to this gateway's own routes; every value
// from the network is shown as text (textContent), never parsed as markup.
//
// The page's query may set the camera size and rate: /live?width=320&height=240&fps=30 (default
// 640×480 at 30 fps, or what the camera gives).

import { latencyMeter, stampedStream } from "./stamp.js";

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  model: $("model"),
  params: $("params"),
  start: $("start"),
  apply: $("apply"),
  stop: $("stop"),
  message: $("message"),
  input: $("input"),
  output: $("output"),
  fps: $("fps"),
  runnerFps: $("runner-fps"),
  latency: $("latency"),
  cost: $("cost"),
  price: $("price"),
  orchestrator: $("orchestrator"),
  stream: $("stream"),
};
const query = new URLSearchParams(location.search);
const wanted = {
  width: Number(query.get("width")) || 640,
  height: Number(query.get("height")) || 480,
  fps: Number(query.get("fps")) || 30,
};

/** The running session (undefined when idle). */
let session;
let models = [];

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
}

function say(text, kind = "info") {
  ui.message.dataset.kind = kind;
  ui.message.textContent = text;
}

/** An error answer in words: our JSON envelope's message, else the text. */
async function answerText(res) {
  const text = await res.text();
  try {
    const e = JSON.parse(text).error;
    if (e?.message) return `${e.code ? `${e.code}: ` : ""}${e.message}`;
  } catch {}
  return text.slice(0, 300) || `HTTP ${res.status}`;
}

function formatWei(wei) {
  const n = BigInt(wei);
  const scaled = (div, unit) => {
    const whole = n / div;
    const frac = ((n % div) * 10000n) / div;
    const digits = `${whole}.${frac.toString().padStart(4, "0")}`.replace(/\.?0+$/, "");
    return `${digits} ${unit}`;
  };
  if (n >= 10n ** 15n) return scaled(10n ** 18n, "ETH");
  if (n >= 10n ** 9n) return scaled(10n ** 9n, "gwei");
  return `${n} wei`;
}

function readParams() {
  const text = ui.params.value.trim() || "{}";
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`params are not JSON: ${e.message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error("params must be a JSON object");
  return v;
}

async function loadModels() {
  try {
    const res = await fetch("/live/page/models", { cache: "no-store" });
    if (!res.ok) throw new Error(await answerText(res));
    models = (await res.json()).models ?? [];
  } catch (e) {
    say(`could not list the live models: ${e.message}`, "error");
    models = [];
  }
  const chosen = ui.model.value || query.get("model") || "";
  ui.model.replaceChildren();
  if (models.length === 0) {
    const o = document.createElement("option");
    o.value = "";
    o.textContent = "no live model offered yet";
    ui.model.append(o);
  }
  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.model_id;
    o.textContent = `${m.model_id} (${m.warm}/${m.orchestrators} warm, ${m.free} free)`;
    ui.model.append(o);
  }
  if (models.some((m) => m.model_id === chosen)) ui.model.value = chosen;
  showPrice();
  if (!session) ui.start.disabled = models.length === 0;
}

function showPrice() {
  const m = models.find((x) => x.model_id === ui.model.value);
  ui.price.textContent = m?.price ?? (m ? "free (no price quoted)" : "–");
}

/** Resolves once `pc` finished gathering its ICE candidates (the offer then carries them all). */
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => pc.iceGatheringState === "complete" && resolve();
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // enough candidates for loopback and LAN
  });
}

async function offerTo(pc, url) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(await answerText(res));
  const answer = await res.text();
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return res;
}

async function start() {
  const model = ui.model.value;
  if (!model) return say("pick a model first", "error");
  let params;
  try {
    params = readParams();
  } catch (e) {
    return say(e.message, "error");
  }
  ui.start.disabled = true;
  setState("starting", "Starting…");
  say("asking for the camera…");
  const s = { stopped: false, timers: [] };
  session = s;
  try {
    s.camera = await navigator.mediaDevices.getUserMedia({
      video: {
        width: { ideal: wanted.width },
        height: { ideal: wanted.height },
        frameRate: { ideal: wanted.fps },
      },
      audio: false,
    });
    const set = s.camera.getVideoTracks()[0].getSettings();
    const width = set.width || wanted.width;
    const height = set.height || wanted.height;
    const cam = document.createElement("video");
    cam.muted = true;
    cam.playsInline = true;
    cam.srcObject = s.camera;
    await cam.play();
    s.stamped = stampedStream(cam, width, height, wanted.fps);
    ui.input.srcObject = s.stamped.stream;
    // The runner scales to params.width × height (cover-crop): keep the camera's size unless told.
    const sent = { width, height, ...params };

    say("publishing by WHIP…");
    s.pub = new RTCPeerConnection();
    const tx = s.pub.addTransceiver(s.stamped.stream.getVideoTracks()[0], { direction: "sendonly" });
    const sp = tx.sender.getParameters();
    sp.degradationPreference = "maintain-resolution";
    await tx.sender.setParameters(sp).catch(() => {});
    const name = `live-${crypto.randomUUID().slice(0, 8)}`;
    const whip = `/live/video-to-video/${name}/whip?pipeline=${encodeURIComponent(model)}&params=${encodeURIComponent(JSON.stringify(sent))}`;
    const w = await offerTo(s.pub, whip);
    s.location = w.headers.get("location");
    s.playback = w.headers.get("livepeer-playback-url");
    s.status = s.location.replace("/whip?", "/status?");
    s.update = s.location.replace("/whip?", "/update?");
    ui.stream.textContent = name;
    if (s.stopped) return;

    say("playing the output by WHEP…");
    s.view = new RTCPeerConnection();
    s.view.addTransceiver("video", { direction: "recvonly" });
    s.view.addEventListener("track", (e) => {
      ui.output.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    });
    const v = await offerTo(s.view, s.playback);
    s.viewer = v.headers.get("location");
    for (const pc of [s.pub, s.view])
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "failed" && !s.stopped)
          stop(`the ${pc === s.pub ? "publishing" : "playing"} connection failed`);
      });
    s.meter = latencyMeter(ui.output);
    s.timers.push(setInterval(() => void poll(s), 1000));
    ui.apply.disabled = false;
    ui.stop.disabled = false;
    setState("live", "Live");
    say("waiting for the first processed frames (the pipeline needs a keyframe)…");
  } catch (e) {
    await stop(`could not start: ${e.message}`);
  }
}

let lastFrames = 0;
let lastAt = 0;
async function poll(s) {
  if (s.stopped) return;
  const now = performance.now();
  const m = s.meter.summary();
  if (lastAt) ui.fps.textContent = (((m.frames - lastFrames) * 1000) / (now - lastAt)).toFixed(1);
  lastFrames = m.frames;
  lastAt = now;
  if (m.count > 0) {
    ui.latency.textContent = `${Math.round(m.p50)} / ${Math.round(m.p95)} ms (${m.count} frames)`;
    ui.latency.dataset.p50 = String(m.p50);
    ui.latency.dataset.p95 = String(m.p95);
    if (ui.message.textContent.startsWith("waiting"))
      say("live: change the params and apply them while it runs");
  }
  try {
    const res = await fetch(s.status, { cache: "no-store" });
    if (!res.ok) return;
    const st = await res.json();
    if (s.stopped) return;
    ui.orchestrator.textContent = st.orchestrator || "–";
    ui.cost.textContent = `${formatWei(st.paid_wei ?? "0")} (${st.tickets_sent ?? 0} tickets, ${st.payments ?? 0} payments)`;
    const f = st.fps;
    if (f && typeof f === "object")
      ui.runnerFps.textContent = `${Number(f.ingress_video_fps ?? 0).toFixed(1)} / ${Number(f.egress_video_fps ?? 0).toFixed(1)}`;
    if (["failed", "stopped", "ended"].includes(st.state))
      await stop(
        `the stream ${st.state}${st.error ? `: ${typeof st.error === "string" ? st.error : st.error.error_message}` : ""}`,
      );
  } catch {}
}

async function apply() {
  if (!session?.update) return;
  let params;
  try {
    params = readParams();
  } catch (e) {
    return say(e.message, "error");
  }
  const res = await fetch(session.update, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
  });
  if (res.ok) {
    await res.body?.cancel();
    say(`params applied: ${JSON.stringify(params)}`);
  } else say(`params refused: ${await answerText(res)}`, "error");
}

/** Ends the session: DELETE the viewer and the WHIP session (the stream stops paying), close everything. */
async function stop(why) {
  const s = session;
  if (!s || s.stopped) return;
  s.stopped = true;
  for (const t of s.timers) clearInterval(t);
  s.meter?.stop();
  const deletes = [s.viewer, s.location].filter(Boolean).map((u) =>
    fetch(u, { method: "DELETE", keepalive: true })
      .then((r) => r.body?.cancel())
      .catch(() => {}),
  );
  await Promise.all(deletes);
  s.pub?.close();
  s.view?.close();
  s.stamped?.stop();
  for (const t of s.camera?.getTracks() ?? []) t.stop();
  ui.input.srcObject = null;
  ui.output.srcObject = null;
  session = undefined;
  lastFrames = 0;
  lastAt = 0;
  ui.apply.disabled = true;
  ui.stop.disabled = true;
  ui.start.disabled = models.length === 0;
  setState(why ? "error" : "idle", why ? "Stopped" : "Idle");
  say(why ?? "stopped: the stream ended and stopped paying", why ? "error" : "info");
}

ui.start.addEventListener("click", () => void start());
ui.stop.addEventListener("click", () => void stop());
ui.apply.addEventListener("click", () => void apply());
ui.model.addEventListener("change", showPrice);
addEventListener("pagehide", () => void stop());
await loadModels();
setInterval(() => void loadModels(), 10_000);
