// Tributary network capabilities dashboard: renders the state from api/state and keeps it live through
// Server-Sent Events from events. Every value from the network is inserted as text (textContent or
// attribute values set through the DOM), never parsed as markup.

const base = new URL(".", import.meta.url);
const stateUrl = new URL("api/state", base);
const eventsUrl = new URL("events", base);
const explorerUrl = new URL("api/explorer", base);
/** The server says which extra views it serves; the explorer's sections show only where it does. */
const hasExplorer = (document.body.dataset.views ?? "").split(",").includes("explorer");
const SVG_NS = "http://www.w3.org/2000/svg";

let current;
let filterText = "";

/** Creates an element; string and number children become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

const HEALTH_LABEL = {
  healthy: "Healthy",
  busy: "Busy",
  suspended: "Suspended",
  erroring: "Error answer",
  unreachable: "Unreachable",
  rejected: "Rejected",
  absent: "Not listed",
};

function healthBadge(health) {
  return el("span", { class: `badge health-${health}` }, HEALTH_LABEL[health] ?? String(health));
}

function warmBadge(warm) {
  return el("span", { class: warm ? "badge warm" : "badge cold" }, warm ? "warm" : "cold");
}

function ms(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

function time(t) {
  return typeof t === "number" ? new Date(t).toLocaleTimeString() : "–";
}

function priceNode(price) {
  if (!price) return el("span", { class: "muted" }, "no price");
  return el(
    "span",
    { class: "price", title: `exact: ${price.weiPerUnit} wei per ${price.unit} (${price.source} price)` },
    price.display,
    price.displayScaled ? el("span", { class: "scaled" }, price.displayScaled) : null,
  );
}

/** An inline SVG sparkline of a numeric series (nulls are gaps), with a text alternative. */
function sparkline(values, label, unit) {
  const w = 120;
  const h = 28;
  const nums = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  const title = document.createElementNS(SVG_NS, "title");
  if (nums.length === 0) {
    title.textContent = `${label}: no samples yet`;
    svg.append(title);
    return svg;
  }
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  title.textContent = `${label}, last ${nums.length} samples: min ${Math.round(min)}${unit}, max ${Math.round(max)}${unit}`;
  svg.setAttribute("aria-label", title.textContent);
  svg.append(title);
  const span = max - min || 1;
  const step = values.length > 1 ? (w - 4) / (values.length - 1) : 0;
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = 2 + i * step;
    const y = h - 3 - ((v - min) / span) * (h - 6);
    d += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)} `;
    pen = true;
  });
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", d.trim());
  path.setAttribute("class", "line");
  svg.append(path);
  const lastIndex = values.length - 1;
  const last = values[lastIndex];
  if (typeof last === "number" && Number.isFinite(last)) {
    const dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", (2 + lastIndex * step).toFixed(1));
    dot.setAttribute("cy", (h - 3 - ((last - min) / span) * (h - 6)).toFixed(1));
    dot.setAttribute("r", "2");
    dot.setAttribute("class", "dot");
    svg.append(dot);
  }
  return svg;
}

function renderSummary(state) {
  const orchs = state.orchestrators;
  const healthy = orchs.filter((o) => o.health === "healthy").length;
  const warmCaps = state.capabilities.filter((c) => c.warm > 0).length;
  const items = [
    ["Orchestrators", orchs.length],
    ["Healthy", healthy],
    ["Capabilities", state.capabilities.length],
    ["Warm somewhere", warmCaps],
    ["Snapshot", time(state.snapshotAt)],
  ];
  document
    .getElementById("summary")
    .replaceChildren(
      ...items.map(([k, v]) => el("div", { class: "stat" }, el("dt", {}, k), el("dd", {}, v))),
    );
}

function renderCapabilities(state) {
  const tbody = document.querySelector("#caps tbody");
  const needle = filterText.trim().toLowerCase();
  const caps = state.capabilities.filter((c) => needle === "" || c.key.toLowerCase().includes(needle));
  tbody.replaceChildren(
    ...caps.map((c) =>
      el(
        "tr",
        { "data-key": c.key, "data-warm-count": c.warm, "data-cold-count": c.cold },
        el(
          "th",
          { scope: "row" },
          el("span", { class: "pipeline" }, c.pipeline),
          el("span", { class: "model" }, c.modelId),
        ),
        el("td", { class: c.warm > 0 ? "num good" : "num" }, c.warm),
        el("td", { class: "num" }, c.cold),
        el("td", { class: "num" }, `${c.capacityInUse} / ${c.capacity}`),
        el("td", {}, c.bestPrice ? priceNode(c.bestPrice) : el("span", { class: "muted" }, "–")),
        el(
          "td",
          {},
          el(
            "ul",
            { class: "providers" },
            c.providers.map((p) =>
              el(
                "li",
                { "data-url": p.url, "data-warm": String(p.warm), "data-health": p.health },
                el("span", { class: "url" }, p.url),
                " ",
                warmBadge(p.warm),
                p.health !== "healthy" ? [" ", healthBadge(p.health)] : null,
                " ",
                el("span", { class: "muted" }, `${p.capacityInUse}/${p.capacity}`),
                " ",
                priceNode(p.price),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  document.getElementById("caps-empty").hidden = state.capabilities.length > 0;
}

function renderOrchestrators(state) {
  const tbody = document.querySelector("#orchs tbody");
  tbody.replaceChildren(
    ...state.orchestrators.map((o) =>
      el(
        "tr",
        { "data-url": o.url, "data-health": o.health, class: `row-${o.health}` },
        el(
          "th",
          { scope: "row" },
          el("span", { class: "url" }, o.url),
          o.address && o.address !== "0x" ? el("span", { class: "addr" }, o.address) : null,
          o.version ? el("span", { class: "muted" }, `version ${o.version}`) : null,
        ),
        el(
          "td",
          {},
          healthBadge(o.health),
          o.reason ? el("span", { class: "reason" }, o.reason) : null,
          o.infoFetchedAt && o.health !== "healthy"
            ? el("span", { class: "muted" }, `info from ${time(o.infoFetchedAt)}`)
            : null,
        ),
        el(
          "td",
          {},
          el(
            "span",
            { class: "num" },
            o.consecutiveFailures > 0 ? `last ok ${ms(o.lastLatencyMs)}` : ms(o.lastLatencyMs),
          ),
          el("span", { class: "muted" }, `avg ${ms(o.avgLatencyMs)}`),
          sparkline(o.history.latencyMs, "Latency", " ms"),
        ),
        el(
          "td",
          {},
          el("span", { class: "num" }, `${o.capacityInUse} / ${o.capacity}`),
          sparkline(o.history.inUse, "Capacity in use", ""),
        ),
        el(
          "td",
          {},
          o.offers.length === 0
            ? el("span", { class: "muted" }, "none advertised")
            : el(
                "ul",
                { class: "offers" },
                o.offers.map((f) =>
                  el(
                    "li",
                    { "data-key": f.key, "data-warm": String(f.warm) },
                    el("span", { class: "key" }, f.key),
                    " ",
                    warmBadge(f.warm),
                    " ",
                    el("span", { class: "muted" }, `${f.capacityInUse}/${f.capacity}`),
                    " ",
                    priceNode(f.price),
                  ),
                ),
              ),
        ),
        el("td", {}, o.defaultPrice ? priceNode(o.defaultPrice) : el("span", { class: "muted" }, "–")),
        el(
          "td",
          {},
          el(
            "span",
            { class: o.consecutiveFailures > 0 ? "num bad" : "num" },
            `${o.failures} of ${o.successes + o.failures} calls failed`,
          ),
          o.recentFailures.length > 0
            ? el(
                "ul",
                { class: "failures" },
                o.recentFailures
                  .slice(0, 3)
                  .map((f) =>
                    el(
                      "li",
                      {},
                      el("time", {}, time(f.at)),
                      f.count > 1 ? ` (×${f.count})` : "",
                      " ",
                      f.error,
                    ),
                  ),
              )
            : null,
        ),
      ),
    ),
  );
  document.getElementById("orchs-empty").hidden = state.orchestrators.length > 0;
}

/** Live runners: shown only when the gateway lists them (--live-runner-discovery). */
function renderRunners(state) {
  const section = document.getElementById("runners-section");
  section.hidden = state.runners === undefined;
  if (state.runners === undefined) return;
  const used = (r) => (r.capacity === undefined ? "–" : `${r.capacityUsed ?? 0} / ${r.capacity}`);
  document
    .querySelector("#runners tbody")
    .replaceChildren(
      ...state.runners.map((r) =>
        el(
          "tr",
          { "data-route": r.route, "data-state": r.state },
          el(
            "th",
            { scope: "row" },
            el("span", { class: "pipeline" }, r.app),
            " ",
            el("span", { class: "model" }, r.route),
          ),
          el("td", {}, r.mode),
          el("td", { class: r.state === "ok" ? "good" : "" }, r.state === "ok" ? "ready" : r.state),
          el("td", { class: "num" }, used(r)),
          el("td", {}, r.price ?? el("span", { class: "muted" }, "free")),
          el("td", {}, el("span", { class: "url" }, r.url)),
        ),
      ),
    );
  document.getElementById("runners-empty").hidden = state.runners.length > 0;
}

const STATE_LABEL = { ok: "OK", busy: "Busy", unreachable: "Unreachable", unknown: "Not probed" };
const STATE_HEALTH = { ok: "healthy", busy: "busy", unreachable: "unreachable", unknown: "absent" };

function stateBadge(state) {
  return el(
    "span",
    { class: `badge health-${STATE_HEALTH[state] ?? "absent"}` },
    STATE_LABEL[state] ?? String(state),
  );
}

/** LPT wei as a short LPT figure. */
function lpt(wei) {
  if (typeof wei !== "string") return "–";
  const whole = BigInt(wei) / 10n ** 18n;
  return `${whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")} LPT`;
}

function priceRange(c) {
  if (!c.priceMin) return el("span", { class: "muted" }, "no price");
  const same = c.priceMax && c.priceMax.wei === c.priceMin.wei;
  return el(
    "span",
    {
      class: "price",
      title: `exact: ${c.priceMin.wei}${same ? "" : ` to ${c.priceMax.wei}`} wei per ${c.priceMin.unit}`,
    },
    same ? c.priceMin.display : `${c.priceMin.display} – ${c.priceMax.display}`,
  );
}

function renderExplorer(view) {
  const caps = view.capabilities;
  const xcaps = document.querySelector("#xcaps tbody");
  xcaps.replaceChildren(
    ...caps.map((c) =>
      el(
        "tr",
        { "data-key": c.key, "data-warm-count": c.warm, "data-cold-count": c.cold },
        el("th", { scope: "row" }, el("span", { class: "cap" }, c.key)),
        el("td", {}, c.kind),
        el("td", { class: "num warm-count" }, c.warm),
        el("td", { class: "num cold-count" }, c.cold),
        el("td", { class: "num" }, `${c.free} / ${c.capacity}`),
        el("td", {}, priceRange(c)),
        el(
          "td",
          { class: "num" },
          ms(c.latencyMs),
          c.successRate === undefined
            ? null
            : el("span", { class: "scaled" }, `${Math.round(c.successRate * 100)}% of probes`),
        ),
        el(
          "td",
          {},
          el(
            "ul",
            { class: "providers" },
            ...c.providers.map((p) =>
              el(
                "li",
                {},
                stateBadge(p.state),
                " ",
                warmBadge(p.warm),
                " ",
                el("span", { class: "url" }, p.address || p.url),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  document.getElementById("xcaps-section").hidden = caps.length === 0;
  const xset = document.querySelector("#xset tbody");
  const onchain = view.totals.stake !== undefined;
  xset.replaceChildren(
    ...view.orchestrators.map((o) =>
      el(
        "tr",
        { "data-url": o.url, "data-state": o.state },
        el(
          "th",
          { scope: "row" },
          el("span", { class: "url" }, o.address || o.url),
          o.address && o.url !== o.address ? el("span", { class: "scaled" }, o.url) : null,
        ),
        el(
          "td",
          { title: o.reason ?? "" },
          stateBadge(o.state),
          o.reason ? el("span", { class: "scaled" }, o.reason) : null,
        ),
        el(
          "td",
          { class: "num" },
          onchain ? `${lpt(o.stake)} (${Math.round((o.stakeShare ?? 0) * 1000) / 10}%)` : "–",
        ),
        el(
          "td",
          { class: "num" },
          o.rewardCutPercent === undefined ? "–" : `${o.rewardCutPercent}% / ${o.feeSharePercent}%`,
        ),
        el("td", { class: "num" }, o.activationRound === undefined ? "–" : `round ${o.activationRound}`),
        el("td", { class: "num" }, `${o.free} / ${o.capacity}`),
        el("td", {}, [...new Set(o.hardware.flatMap((h) => h.gpus.map((g) => g.name)))].join(", ") || "–"),
        el("td", { class: "num" }, ms(o.latencyMs)),
      ),
    ),
  );
  document.getElementById("xset-section").hidden = view.orchestrators.length === 0;
}

let explorerLoading = false;
let explorerAgain = false;

/** Fetches the explorer's figures after a state change (one request at a time; the last change wins). */
async function loadExplorer() {
  if (explorerLoading) {
    explorerAgain = true;
    return;
  }
  explorerLoading = true;
  try {
    const res = await fetch(explorerUrl, { cache: "no-store" });
    if (res.ok) renderExplorer(await res.json());
  } catch {
    // The event stream reports the connection state.
  } finally {
    explorerLoading = false;
    if (explorerAgain) {
      explorerAgain = false;
      loadExplorer();
    }
  }
}

function render(state) {
  if (current && state.version < current.version) return;
  current = state;
  document.body.dataset.version = String(state.version);
  renderSummary(state);
  renderCapabilities(state);
  renderOrchestrators(state);
  renderRunners(state);
  if (hasExplorer) loadExplorer();
}

/** The connection pill is a live region, so it only changes when the connection does. */
function setConnection(kind, text) {
  const conn = document.getElementById("conn");
  if (conn.dataset.state === kind && conn.textContent === text) return;
  conn.dataset.state = kind;
  conn.textContent = text;
}

async function loadOnce() {
  try {
    const res = await fetch(stateUrl, { cache: "no-store" });
    if (res.ok) render(await res.json());
  } catch {
    // The event stream reports the connection state.
  }
}

function connect() {
  const source = new EventSource(eventsUrl);
  source.addEventListener("open", () => setConnection("live", "Live"));
  source.addEventListener("state", (e) => {
    setConnection("live", "Live");
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    try {
      render(JSON.parse(e.data));
    } catch {
      // A malformed event is ignored; the next one replaces the whole state.
    }
  });
  source.addEventListener("error", () => setConnection("down", "Reconnecting…"));
}

document.getElementById("filter").addEventListener("input", (e) => {
  filterText = e.target.value;
  if (current) renderCapabilities(current);
});

loadOnce();
connect();
