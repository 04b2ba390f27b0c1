// Tributary network capabilities dashboard: renders the state from api/state and keeps it live through
// Server-Sent Events from events; the explorer's and the gateway's experience views are fetched from
// api/explorer and api/experience where the node serves them. Every value from the network is
// inserted as text (textContent or attribute values set through the DOM), never parsed as markup.
// Every table sorts by its column headers and follows the filters at the top, which live in the
// URL's fragment (#pipeline=…&model=…&orchestrator=…&state=…), so links between tables are filters.

const base = new URL(".", import.meta.url);
const stateUrl = new URL("api/state", base);
const eventsUrl = new URL("events", base);
const explorerUrl = new URL("api/explorer", base);
const experienceUrl = new URL("api/experience", base);
const views = (document.body.dataset.views ?? "").split(",");
/** The server says which extra views it serves; their sections show only where it does. */
const hasExplorer = views.includes("explorer");
const hasExperience = views.includes("experience");
const SVG_NS = "http://www.w3.org/2000/svg";
/** How often the experience view is fetched besides state changes, ms. */
const EXPERIENCE_POLL_MS = 5000;

let current;
let explorerView;
let experienceView;
let span = "hour";
const filters = { pipeline: "", model: "", orchestrator: "", state: "" };
/** Table id → { col, dir } (dir 1 ascending, -1 descending). */
const sorts = new Map();

/** Creates an element; string and number children become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Number.POSITIVE_INFINITY)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, String(v));
  return node;
}

// ---- filters (in the URL fragment) and links between tables ----

/** The group a raw state or health falls in, for the state filter. */
const STATE_GROUP = {
  healthy: "ok",
  ok: "ok",
  ready: "ok",
  running: "ok",
  busy: "busy",
  suspended: "busy",
  erroring: "down",
  unreachable: "down",
  rejected: "down",
  failed: "down",
  absent: "unknown",
  unknown: "unknown",
  starting: "unknown",
  moving: "unknown",
};

function readFilters() {
  const p = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(filters)) filters[k] = p.get(k) ?? "";
  const form = document.getElementById("filters");
  for (const k of Object.keys(filters))
    if (form.elements[k].value !== filters[k]) form.elements[k].value = filters[k];
  return p.get("go");
}

function writeFilters() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== "") p.set(k, v);
  const hash = p.toString();
  history.replaceState(null, "", hash === "" ? location.pathname + location.search : `#${hash}`);
}

/** A link that sets the filters (and scrolls to `go`, a section id). */
function filterLink(text, set, go, attrs = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(set)) if (v) p.set(k, v);
  if (go) p.set("go", go);
  return el("a", { ...attrs, href: `#${p.toString()}`, class: `${attrs.class ?? ""} jump`.trim() }, text);
}

const splitKey = (key) => {
  const i = key.indexOf("/");
  return i < 0 ? { pipeline: key, model: "" } : { pipeline: key.slice(0, i), model: key.slice(i + 1) };
};

const capLink = (key, go, attrs) => filterLink(key, { ...splitKey(key) }, go, attrs);

function has(values, needle) {
  if (needle === "") return true;
  const n = needle.toLowerCase();
  return values.some((v) => typeof v === "string" && v.toLowerCase().includes(n));
}

/** True when an item with these facets passes the filters. */
function passes({ pipelines = [], models = [], orchestrators = [], states = [] }) {
  return (
    has(pipelines, filters.pipeline) &&
    has(models, filters.model) &&
    has(orchestrators, filters.orchestrator) &&
    (filters.state === "" || states.some((s) => STATE_GROUP[s] === filters.state))
  );
}

// ---- tables: headers with sort buttons, filtered and sorted rows, a label per cell for phones ----

/** A cell with attributes: `cell({ class: "num" }, …children)`. */
function cell(attrs, ...children) {
  return { cell: true, attrs, children };
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function renderHead(table, id, columns) {
  const s = sorts.get(id);
  const row = el(
    "tr",
    {},
    columns.map((c, i) => {
      const sorted = s && s.col === i ? (s.dir > 0 ? "ascending" : "descending") : undefined;
      if (!c.sort) return el("th", { scope: "col" }, c.label);
      return el(
        "th",
        { scope: "col", "aria-sort": sorted ?? "none" },
        el(
          "button",
          { type: "button", class: "sort", "data-col": i, title: `Sort by ${c.label.toLowerCase()}` },
          c.label,
          el(
            "span",
            { class: "arrow", "aria-hidden": "true" },
            sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : "",
          ),
        ),
      );
    }),
  );
  table.tHead.replaceChildren(row);
}

/**
 * Renders `items` into table `id`: filtered by `facets(item)`, sorted by the chosen column, one row
 * per item from `row(item)` ({ attrs, cells }); the first cell is the row header.
 */
function renderTable(id, columns, items, facets, row) {
  const table = document.getElementById(id);
  table.dataset.columns = String(columns.length);
  renderHead(table, id, columns);
  let shown = items.filter((x) => passes(facets(x)));
  const s = sorts.get(id);
  const by = s && columns[s.col]?.sort;
  if (by)
    shown = shown
      .map((x, i) => [x, i])
      .sort((a, b) => s.dir * compare(by(a[0]), by(b[0])) || a[1] - b[1])
      .map(([x]) => x);
  table.tBodies[0].replaceChildren(
    ...shown.map((item) => {
      const r = row(item);
      return el(
        "tr",
        r.attrs,
        r.cells.map((c, i) => {
          const spec = c && typeof c === "object" && c.cell === true ? c : { attrs: {}, children: [c] };
          const attrs = { ...spec.attrs, "data-label": columns[i]?.label };
          return i === 0
            ? el("th", { scope: "row", ...attrs }, spec.children)
            : el("td", attrs, spec.children);
        }),
      );
    }),
  );
  table.dataset.shown = String(shown.length);
  table.dataset.total = String(items.length);
  return shown.length;
}

document.addEventListener("click", (e) => {
  const button = e.target instanceof Element ? e.target.closest("button.sort") : null;
  if (!button) return;
  const id = button.closest("table").id;
  const col = Number(button.dataset.col);
  const s = sorts.get(id);
  sorts.set(id, { col, dir: s && s.col === col ? -s.dir : 1 });
  renderAll();
});

// ---- formatting ----

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

function pct(rate) {
  return typeof rate === "number" ? `${Math.round(rate * 1000) / 10}%` : "–";
}

/** A `<time>` in local time, the full date and zone on hover. */
function timeNode(t) {
  if (typeof t !== "number") return el("span", { class: "muted" }, "–");
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return el(
    "time",
    { datetime: d.toISOString(), title: d.toString() },
    today ? d.toLocaleTimeString() : d.toLocaleString(),
  );
}

function duration(msValue) {
  const s = Math.max(0, Math.round(msValue / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Wei (decimal string) in the largest readable denomination, as the server formats prices. */
function weiText(wei) {
  let v;
  try {
    v = BigInt(wei);
  } catch {
    return "–";
  }
  const fmt = (n, d) => {
    const whole = n / d;
    const frac = ((n % d) * 10000n) / d;
    return frac === 0n ? whole.toString() : `${whole}.${frac.toString().padStart(4, "0").replace(/0+$/, "")}`;
  };
  if (v >= 10n ** 15n) return `${fmt(v, 10n ** 18n)} ETH`;
  if (v >= 10n ** 9n) return `${fmt(v, 10n ** 9n)} gwei`;
  return `${v} wei`;
}

function usdText(wei) {
  const usdPerEth = explorerView?.usdPerEth;
  if (typeof usdPerEth !== "number") return null;
  const usd = (Number(wei) / 1e18) * usdPerEth;
  return Number.isFinite(usd) ? `$${usd < 0.01 ? usd.toPrecision(2) : usd.toFixed(2)}` : null;
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

function capacityText(inUse, capacity, unknown) {
  if (unknown && capacity === 0) return "unknown";
  return `${inUse} / ${capacity}${unknown ? " + unknown" : ""}`;
}

// ---- charts (inline SVG) ----

function chartFrame(w, h, label) {
  const svg = svgEl("svg", { class: "chart", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  const title = svgEl("title");
  title.textContent = label;
  svg.setAttribute("aria-label", label);
  svg.append(title);
  return svg;
}

/** Lines of numeric series (nulls are gaps), sharing one scale. */
function lineChart(series, label, unit, w = 120, h = 28) {
  const nums = series.flatMap((s) => s.values.filter((v) => typeof v === "number" && Number.isFinite(v)));
  if (nums.length === 0) {
    const svg = chartFrame(w, h, `${label}: no samples yet`);
    svg.classList.add("spark");
    svg.dataset.samples = "0";
    return svg;
  }
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  const svg = chartFrame(
    w,
    h,
    `${label}: ${nums.length} samples, min ${Math.round(min)}${unit}, max ${Math.round(max)}${unit}`,
  );
  svg.classList.add("spark");
  svg.dataset.samples = String(nums.length);
  const range = max - min || 1;
  for (const s of series) {
    const step = s.values.length > 1 ? (w - 4) / (s.values.length - 1) : 0;
    const y = (v) => h - 3 - ((v - min) / range) * (h - 6);
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${(2 + i * step).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    if (d !== "") svg.append(svgEl("path", { d: d.trim(), class: `line ${s.cls ?? ""}`.trim() }));
    const last = s.values.length - 1;
    const lv = s.values[last];
    if (typeof lv === "number" && Number.isFinite(lv) && !s.cls)
      svg.append(
        svgEl("circle", { cx: (2 + last * step).toFixed(1), cy: y(lv).toFixed(1), r: 2, class: "dot" }),
      );
  }
  return svg;
}

/** Stacked bars of attempts per point: answered, failed, busy or client error. */
function barChart(points, label, w = 180, h = 36) {
  const max = Math.max(1, ...points.map((p) => p.count));
  const total = points.reduce((n, p) => n + p.count, 0);
  const svg = chartFrame(w, h, `${label}: ${total} in the span, at most ${max} per point`);
  svg.classList.add("bars");
  svg.dataset.nonzero = String(points.filter((p) => p.count > 0).length);
  const bw = w / Math.max(1, points.length);
  points.forEach((p, i) => {
    if (p.count === 0) return;
    let y = h;
    const other = p.count - p.ok - p.failed;
    for (const [n, cls] of [
      [p.ok, "ok"],
      [p.failed, "failed"],
      [other, "other"],
    ]) {
      if (n <= 0) continue;
      const bh = (n / max) * (h - 2);
      y -= bh;
      svg.append(
        svgEl("rect", {
          x: (i * bw + 0.5).toFixed(1),
          y: y.toFixed(1),
          width: Math.max(1, bw - 1).toFixed(1),
          height: bh.toFixed(1),
          class: cls,
        }),
      );
    }
  });
  return svg;
}

// ---- summary ----

function renderSummary(state) {
  const orchs = state.orchestrators;
  const healthy = orchs.filter((o) => o.health === "healthy").length;
  const warmCaps = state.capabilities.filter((c) => c.warm > 0).length;
  const items = [
    ["Orchestrators", orchs.length],
    ["Healthy", healthy],
    ["Capabilities", state.capabilities.length],
    ["Warm somewhere", warmCaps],
    ["Snapshot", timeNode(state.snapshotAt)],
  ];
  if (explorerView?.usdPerEth) items.push(["USD/ETH", `$${explorerView.usdPerEth}`]);
  document
    .getElementById("summary")
    .replaceChildren(
      ...items.map(([k, v]) => el("div", { class: "stat" }, el("dt", {}, k), el("dd", {}, v))),
    );
}

// ---- the node's own view: capabilities, orchestrators, live runners ----

const CAPS_COLUMNS = [
  { label: "Capability", sort: (c) => c.key },
  { label: "Warm", sort: (c) => c.warm },
  { label: "Cold", sort: (c) => c.cold },
  { label: "In use / capacity", sort: (c) => c.capacity },
  { label: "Best price", sort: (c) => (c.bestPrice ? Number(eval1(c.bestPrice.weiPerUnit)) : undefined) },
  { label: "Where" },
];

/** The value of an exact `"n"` or `"n/d"` price string as a number (for sorting only). */
function eval1(text) {
  const [n, d] = String(text).split("/");
  return Number(n) / (d === undefined ? 1 : Number(d));
}

function renderCapabilities(state) {
  renderTable(
    "caps",
    CAPS_COLUMNS,
    state.capabilities,
    (c) => ({
      pipelines: [c.pipeline],
      models: [c.modelId],
      orchestrators: c.providers.map((p) => p.url),
      states: c.providers.map((p) => p.health),
    }),
    (c) => ({
      attrs: { "data-key": c.key, "data-warm-count": c.warm, "data-cold-count": c.cold },
      cells: [
        [el("span", { class: "pipeline" }, c.pipeline), el("span", { class: "model" }, c.modelId)],
        cell({ class: c.warm > 0 ? "num good" : "num" }, c.warm),
        cell({ class: "num" }, c.cold),
        cell({ class: "num" }, capacityText(c.capacityInUse, c.capacity, c.capacityUnknown > 0)),
        c.bestPrice ? priceNode(c.bestPrice) : el("span", { class: "muted" }, "–"),
        el(
          "ul",
          { class: "providers" },
          c.providers.map((p) =>
            el(
              "li",
              { "data-url": p.url, "data-warm": String(p.warm), "data-health": p.health },
              filterLink(p.url, { orchestrator: p.url }, "orchs-title", { class: "url" }),
              " ",
              warmBadge(p.warm),
              p.health !== "healthy" ? [" ", healthBadge(p.health)] : null,
              " ",
              el(
                "span",
                { class: "muted" },
                p.capacityUnknown ? "capacity unknown" : `${p.capacityInUse}/${p.capacity}`,
              ),
              " ",
              priceNode(p.price),
            ),
          ),
        ),
      ],
    }),
  );
  document.getElementById("caps-empty").hidden = state.capabilities.length > 0;
}

const HEALTH_RANK = ["healthy", "busy", "suspended", "erroring", "rejected", "unreachable", "absent"];
const ORCHS_COLUMNS = [
  { label: "Orchestrator", sort: (o) => o.url },
  { label: "Health", sort: (o) => HEALTH_RANK.indexOf(o.health) },
  { label: "Latency", sort: (o) => o.lastLatencyMs },
  { label: "In use / capacity", sort: (o) => o.capacity },
  { label: "Offers", sort: (o) => o.offers.length },
  { label: "Default price", sort: (o) => (o.defaultPrice ? eval1(o.defaultPrice.weiPerUnit) : undefined) },
  { label: "Failures", sort: (o) => o.failures },
];

function renderOrchestrators(state) {
  renderTable(
    "orchs",
    ORCHS_COLUMNS,
    state.orchestrators,
    (o) => ({
      pipelines: o.offers.map((f) => f.pipeline),
      models: o.offers.map((f) => f.modelId),
      orchestrators: [o.url, o.address, o.transcoder],
      states: [o.health],
    }),
    (o) => ({
      attrs: { "data-url": o.url, "data-health": o.health, class: `row-${o.health}` },
      cells: [
        [
          el("span", { class: "url" }, o.url),
          o.address && !/^0x0*$/.test(o.address) ? el("span", { class: "addr" }, o.address) : null,
          o.version ? el("span", { class: "muted" }, `version ${o.version}`) : null,
        ],
        [
          healthBadge(o.health),
          o.reason ? el("span", { class: "reason" }, o.reason) : null,
          o.infoFetchedAt && o.health !== "healthy"
            ? el("span", { class: "muted" }, "info from ", timeNode(o.infoFetchedAt))
            : null,
        ],
        [
          el(
            "span",
            { class: "num" },
            o.consecutiveFailures > 0 ? `last ok ${ms(o.lastLatencyMs)}` : ms(o.lastLatencyMs),
          ),
          el("span", { class: "muted" }, `avg ${ms(o.avgLatencyMs)}`),
          lineChart([{ values: o.history.latencyMs }], "Latency", " ms"),
        ],
        [
          el("span", { class: "num" }, capacityText(o.capacityInUse, o.capacity, o.capacityUnknown)),
          lineChart([{ values: o.history.inUse }], "Capacity in use", ""),
        ],
        o.offers.length === 0
          ? el("span", { class: "muted" }, "none advertised")
          : el(
              "ul",
              { class: "offers" },
              o.offers.map((f) =>
                el(
                  "li",
                  { "data-key": f.key, "data-warm": String(f.warm) },
                  capLink(f.key, "caps-title", { class: "key" }),
                  " ",
                  warmBadge(f.warm),
                  " ",
                  el(
                    "span",
                    { class: "muted" },
                    f.capacityUnknown ? "capacity unknown" : `${f.capacityInUse}/${f.capacity}`,
                  ),
                  " ",
                  priceNode(f.price),
                ),
              ),
            ),
        o.defaultPrice ? priceNode(o.defaultPrice) : el("span", { class: "muted" }, "–"),
        [
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
                    el("li", {}, timeNode(f.at), f.count > 1 ? ` (×${f.count})` : "", " ", f.error),
                  ),
              )
            : null,
        ],
      ],
    }),
  );
  document.getElementById("orchs-empty").hidden = state.orchestrators.length > 0;
}

const RUNNERS_COLUMNS = [
  { label: "App", sort: (r) => r.app },
  { label: "Mode", sort: (r) => r.mode },
  { label: "State", sort: (r) => r.state },
  { label: "In use / capacity", sort: (r) => r.capacity },
  { label: "Price", sort: (r) => r.price },
  { label: "URL", sort: (r) => r.url },
];

/** Live runners: shown only when the gateway lists them (--live-runner-discovery). */
function renderRunners(state) {
  const section = document.getElementById("runners-section");
  section.hidden = state.runners === undefined;
  if (state.runners === undefined) return;
  const used = (r) => (r.capacity === undefined ? "–" : `${r.capacityUsed ?? 0} / ${r.capacity}`);
  renderTable(
    "runners",
    RUNNERS_COLUMNS,
    state.runners,
    (r) => ({
      pipelines: ["live"],
      models: [r.app],
      orchestrators: [r.orchestrator, r.url],
      states: [r.state],
    }),
    (r) => ({
      attrs: { "data-route": r.route, "data-state": r.state },
      cells: [
        [el("span", { class: "pipeline" }, r.app), " ", el("span", { class: "model" }, r.route)],
        r.mode,
        cell({ class: r.state === "ok" ? "good" : "" }, r.state === "ok" ? "ready" : r.state),
        cell({ class: "num" }, used(r)),
        r.price ?? el("span", { class: "muted" }, "free"),
        el("span", { class: "url" }, r.url),
      ],
    }),
  );
  document.getElementById("runners-empty").hidden = state.runners.length > 0;
}

// ---- the explorer's view: capabilities across the set, the active set ----

const STATE_LABEL = { ok: "OK", busy: "Busy", unreachable: "Unreachable", unknown: "Not probed" };
const STATE_HEALTH = { ok: "healthy", busy: "busy", unreachable: "unreachable", unknown: "absent" };
const STATE_RANK = ["ok", "busy", "unreachable", "unknown"];

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
  const usd = c.priceMin.usdDisplay
    ? same
      ? c.priceMin.usdDisplay
      : `${c.priceMin.usdDisplay} – ${c.priceMax.usdDisplay}`
    : null;
  return el(
    "span",
    {
      class: "price",
      title: `exact: ${c.priceMin.wei}${same ? "" : ` to ${c.priceMax.wei}`} wei per ${c.priceMin.unit}`,
    },
    same ? c.priceMin.display : `${c.priceMin.display} – ${c.priceMax.display}`,
    usd ? el("span", { class: "scaled usd" }, usd) : null,
  );
}

const XCAPS_COLUMNS = [
  { label: "Capability", sort: (c) => c.key },
  { label: "Kind", sort: (c) => c.kind },
  { label: "Warm", sort: (c) => c.warm },
  { label: "Cold", sort: (c) => c.cold },
  { label: "Free / capacity", sort: (c) => c.free },
  { label: "Price range", sort: (c) => (c.priceMin ? eval1(c.priceMin.wei) : undefined) },
  { label: "Latency / answered", sort: (c) => c.latencyMs },
  { label: "Offered by", sort: (c) => c.providerCount },
];

const XSET_COLUMNS = [
  { label: "Orchestrator", sort: (o) => o.address || o.url },
  { label: "State", sort: (o) => STATE_RANK.indexOf(o.state) },
  { label: "Stake", sort: (o) => (o.stake === undefined ? undefined : BigInt(o.stake)) },
  { label: "Reward cut / fee share", sort: (o) => o.rewardCutPercent },
  {
    label: "Active since",
    sort: (o) => (o.activationRound === undefined ? undefined : Number(o.activationRound)),
  },
  { label: "Free / capacity", sort: (o) => o.free },
  { label: "Capabilities", sort: (o) => o.offers.length + o.runners.length },
  { label: "GPUs" },
  { label: "Latency", sort: (o) => o.latencyMs },
];

/** Free / capacity; with capacity unknown, the free slots when they were measured by asking. */
function freeText(free, capacity, unknown, measured) {
  if (unknown && capacity === 0) return measured ? `${free} free / capacity unknown` : "unknown";
  return `${free} / ${capacity}${unknown ? " + unknown" : ""}`;
}

function renderExplorer(view) {
  const caps = view.capabilities;
  renderTable(
    "xcaps",
    XCAPS_COLUMNS,
    caps,
    (c) => ({
      pipelines: [c.pipeline],
      models: [c.modelId],
      orchestrators: c.providers.flatMap((p) => [p.url, p.address]),
      states: c.providers.map((p) => p.state),
    }),
    (c) => ({
      attrs: { "data-key": c.key, "data-warm-count": c.warm, "data-cold-count": c.cold },
      cells: [
        el("span", { class: "cap" }, c.key),
        c.kind,
        cell({ class: "num warm-count" }, c.warm),
        cell({ class: "num cold-count" }, c.cold),
        cell({ class: "num" }, freeText(c.free, c.capacity, c.capacityUnknown > 0, c.freeMeasured > 0)),
        priceRange(c),
        cell(
          { class: "num" },
          ms(c.latencyMs),
          c.successRate === undefined
            ? null
            : el("span", { class: "scaled" }, `${pct(c.successRate)} of probes`),
        ),
        el(
          "ul",
          { class: "providers" },
          ...c.providers.map((p) =>
            el(
              "li",
              { "data-url": p.url, "data-state": p.state },
              stateBadge(p.state),
              " ",
              warmBadge(p.warm),
              " ",
              filterLink(p.address || p.url, { orchestrator: p.address || p.url }, "xset-title", {
                class: "url",
              }),
              p.capacityUnknown
                ? el(
                    "span",
                    { class: "muted" },
                    p.freeMeasured ? ` ${p.free} free, capacity unknown` : " capacity unknown",
                  )
                : null,
            ),
          ),
        ),
      ],
    }),
  );
  document.getElementById("xcaps-section").hidden = caps.length === 0;
  const onchain = view.totals.stake !== undefined;
  renderTable(
    "xset",
    XSET_COLUMNS,
    view.orchestrators,
    (o) => ({
      pipelines: [...o.offers.map((f) => f.pipeline), ...(o.runners.length ? ["live"] : [])],
      models: [...o.offers.map((f) => f.modelId), ...o.runners.map((r) => r.app)],
      orchestrators: [o.url, o.address, o.serviceUri],
      states: [o.state],
    }),
    (o) => ({
      attrs: { "data-url": o.url, "data-state": o.state },
      cells: [
        [
          el("span", { class: "url" }, o.address || o.url),
          o.address && o.url !== o.address ? el("span", { class: "scaled" }, o.url) : null,
        ],
        cell(
          { title: o.reason ?? "" },
          stateBadge(o.state),
          o.reason ? el("span", { class: "scaled" }, o.reason) : null,
          o.probedAt ? el("span", { class: "muted" }, "probed ", timeNode(o.probedAt)) : null,
        ),
        cell(
          { class: "num" },
          onchain ? `${lpt(o.stake)} (${Math.round((o.stakeShare ?? 0) * 1000) / 10}%)` : "–",
        ),
        cell(
          { class: "num" },
          o.rewardCutPercent === undefined ? "–" : `${o.rewardCutPercent}% / ${o.feeSharePercent}%`,
        ),
        cell({ class: "num" }, o.activationRound === undefined ? "–" : `round ${o.activationRound}`),
        cell({ class: "num" }, freeText(o.free, o.capacity, o.capacityUnknown, o.freeMeasured)),
        o.offers.length + o.runners.length === 0
          ? el("span", { class: "muted" }, "–")
          : el(
              "ul",
              { class: "offers" },
              o.offers.map((f) =>
                el("li", { "data-key": f.key }, capLink(f.key, "xcaps-title", { class: "key" })),
              ),
              o.runners.map((r) =>
                el(
                  "li",
                  { "data-key": `live/${r.app}` },
                  capLink(`live/${r.app}`, "xcaps-title", { class: "key" }),
                ),
              ),
            ),
        [...new Set(o.hardware.flatMap((h) => h.gpus.map((g) => g.name)))].join(", ") || "–",
        cell({ class: "num" }, ms(o.latencyMs)),
      ],
    }),
  );
  document.getElementById("xset-section").hidden = view.orchestrators.length === 0;
}

// ---- the gateway's experience: charts, active streams, recent failures ----

const KIND_LABEL = { job: "jobs", stream: "streams" };

function xpColumns(first) {
  return [
    { label: first, sort: (s) => s.key },
    { label: "Kind", sort: (s) => s.kind },
    { label: "Count", sort: (s) => s.count },
    { label: "Success", sort: (s) => s.successRate },
    { label: "p50 / p95", sort: (s) => s.p95Ms },
    { label: "Over time" },
  ];
}
const XP_CAPS_COLUMNS = xpColumns("Capability");
const XP_ORCHS_COLUMNS = xpColumns("Orchestrator");

function xpRow(s, byCapability) {
  const name = byCapability
    ? capLink(s.key, hasExplorer ? "xcaps-title" : "caps-title", { class: "key" })
    : filterLink(s.key, { orchestrator: s.key }, hasExplorer ? "xset-title" : "orchs-title", {
        class: "url",
      });
  const related = el(
    "span",
    { class: "related muted" },
    byCapability ? "on " : "ran ",
    s.related.flatMap((r, i) => [
      i > 0 ? ", " : "",
      byCapability
        ? filterLink(r, { orchestrator: r }, "xp-title", { class: "url" })
        : capLink(r, "xp-title", { class: "key" }),
    ]),
  );
  const detail = [
    `${s.ok} answered`,
    s.failed ? `${s.failed} failed` : "",
    s.busy ? `${s.busy} busy` : "",
    s.clientErrors ? `${s.clientErrors} client errors` : "",
  ].filter(Boolean);
  return {
    attrs: { "data-key": s.key, "data-kind": s.kind, "data-count": s.count },
    cells: [
      [name, related],
      KIND_LABEL[s.kind] ?? s.kind,
      cell({ class: "num" }, s.count, el("span", { class: "scaled" }, detail.join(", "))),
      cell({ class: s.failed > 0 ? "num bad" : "num" }, pct(s.successRate)),
      cell({ class: "num" }, `${ms(s.p50Ms)} / ${ms(s.p95Ms)}`),
      el(
        "div",
        { class: "charts" },
        barChart(s.points, `${s.key}: ${KIND_LABEL[s.kind]}`),
        lineChart(
          [
            { values: s.points.map((p) => p.p50Ms ?? null) },
            { values: s.points.map((p) => p.p95Ms ?? null), cls: "p95" },
          ],
          `${s.key}: latency p50 and p95`,
          " ms",
          180,
          28,
        ),
        el("span", { class: "axis" }, span === "hour" ? "60 min ago → now" : "24 h ago → now"),
      ),
    ],
  };
}

const STREAMS_COLUMNS = [
  { label: "Stream", sort: (s) => s.id },
  { label: "Capability", sort: (s) => s.capability },
  { label: "Orchestrator", sort: (s) => s.orchestrator },
  { label: "State", sort: (s) => s.state },
  { label: "FPS" },
  { label: "Output latency", sort: (s) => s.latencyMs },
  { label: "Spent", sort: (s) => BigInt(s.paidWei) },
  { label: "Uptime", sort: (s) => s.uptimeMs },
];

const FAILURES_COLUMNS = [
  { label: "When", sort: (f) => f.at },
  { label: "Kind", sort: (f) => f.kind },
  { label: "Capability", sort: (f) => f.capability },
  { label: "Orchestrator", sort: (f) => f.orchestrator },
  { label: "Cause", sort: (f) => f.cause },
];

function renderExperience(view) {
  document.getElementById("xp-section").hidden = false;
  for (const b of document.querySelectorAll(".spans button"))
    b.setAttribute("aria-pressed", String(b.dataset.span === span));
  const s = view.spans.find((x) => x.name === span) ?? view.spans[0];
  const facetsOf = (x, byCapability) => {
    const caps = byCapability ? [x.key] : x.related;
    return {
      pipelines: caps.map((k) => splitKey(k).pipeline),
      models: caps.map((k) => splitKey(k).model),
      orchestrators: byCapability ? x.related : [x.key],
      states: x.failed > 0 ? ["failed", "running"] : ["running"],
    };
  };
  renderTable(
    "xp-caps",
    XP_CAPS_COLUMNS,
    s.capabilities,
    (x) => facetsOf(x, true),
    (x) => xpRow(x, true),
  );
  renderTable(
    "xp-orchs",
    XP_ORCHS_COLUMNS,
    s.orchestrators,
    (x) => facetsOf(x, false),
    (x) => xpRow(x, false),
  );
  document.getElementById("xp-caps-empty").hidden = s.capabilities.length > 0;
  renderTable(
    "streams",
    STREAMS_COLUMNS,
    view.activeStreams,
    (x) => ({
      pipelines: [splitKey(x.capability).pipeline],
      models: [splitKey(x.capability).model],
      orchestrators: [x.orchestrator ?? ""],
      states: [x.state],
    }),
    (x) => {
      const fps = Object.entries(x.fps)
        .map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`)
        .join(", ");
      const usd = usdText(x.paidWei);
      return {
        attrs: { "data-stream": x.id, "data-state": x.state },
        cells: [
          el("span", { class: "key" }, x.id),
          capLink(x.capability, "xp-title", { class: "key" }),
          x.orchestrator
            ? filterLink(x.orchestrator, { orchestrator: x.orchestrator }, "xp-title", { class: "url" })
            : "–",
          [x.state, x.error ? el("span", { class: "reason" }, x.error) : null],
          cell({ class: "num" }, fps || "–"),
          cell({ class: "num" }, ms(x.latencyMs)),
          cell(
            { class: "num" },
            weiText(x.paidWei),
            usd ? el("span", { class: "scaled" }, `≈ ${usd}`) : null,
          ),
          cell({ class: "num" }, duration(x.uptimeMs)),
        ],
      };
    },
  );
  document.getElementById("streams-empty").hidden = view.activeStreams.length > 0;
  renderTable(
    "xp-failures",
    FAILURES_COLUMNS,
    view.recentFailures,
    (f) => ({
      pipelines: [splitKey(f.capability).pipeline],
      models: [splitKey(f.capability).model],
      orchestrators: [f.orchestrator],
      states: ["failed"],
    }),
    (f) => ({
      attrs: { "data-kind": f.kind, "data-capability": f.capability },
      cells: [
        timeNode(f.at),
        f.kind,
        capLink(f.capability, "xp-title", { class: "key" }),
        f.orchestrator
          ? filterLink(f.orchestrator, { orchestrator: f.orchestrator }, "xp-title", { class: "url" })
          : "–",
        cell({ class: "cause" }, f.cause),
      ],
    }),
  );
  document.getElementById("xp-failures-empty").hidden = view.recentFailures.length > 0;
}

for (const b of document.querySelectorAll(".spans button"))
  b.addEventListener("click", () => {
    span = b.dataset.span;
    if (experienceView) renderExperience(experienceView);
  });

// ---- loading and rendering ----

function renderAll() {
  if (current) {
    renderSummary(current);
    renderCapabilities(current);
    renderOrchestrators(current);
    renderRunners(current);
  }
  if (explorerView) renderExplorer(explorerView);
  if (experienceView) renderExperience(experienceView);
  const active = Object.values(filters).some((v) => v !== "");
  const hidden = [...document.querySelectorAll("table[data-total]")].reduce(
    (n, t) => n + Number(t.dataset.total) - Number(t.dataset.shown),
    0,
  );
  document.getElementById("filters-note").textContent = active ? `filtered: ${hidden} rows hidden` : "";
}

/** One fetch at a time per view; a change while one runs fetches once more after it. */
function loader(url, apply) {
  let loading = false;
  let again = false;
  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const res = await fetch(url, { cache: "no-store" });
      if (res.ok) {
        apply(await res.json());
        renderAll();
      }
    } catch {
      // The event stream reports the connection state.
    } finally {
      loading = false;
      if (again) {
        again = false;
        load();
      }
    }
  };
  return load;
}

const loadExplorer = loader(explorerUrl, (v) => {
  explorerView = v;
});
const loadExperience = loader(experienceUrl, (v) => {
  experienceView = v;
});

function render(state) {
  if (current && state.version < current.version) return;
  current = state;
  document.body.dataset.version = String(state.version);
  renderAll();
  if (hasExplorer) loadExplorer();
  if (hasExperience) loadExperience();
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
    document.getElementById("updated").replaceChildren("updated ", timeNode(Date.now()));
    try {
      render(JSON.parse(e.data));
    } catch {
      // A malformed event is ignored; the next one replaces the whole state.
    }
  });
  source.addEventListener("error", () => setConnection("down", "Reconnecting…"));
}

const form = document.getElementById("filters");
form.addEventListener("submit", (e) => e.preventDefault());
form.addEventListener("input", () => {
  for (const k of Object.keys(filters)) filters[k] = form.elements[k].value;
  writeFilters();
  renderAll();
});
document.getElementById("filters-clear").addEventListener("click", () => {
  for (const k of Object.keys(filters)) filters[k] = "";
  writeFilters();
  readFilters();
  renderAll();
});
window.addEventListener("hashchange", () => {
  const go = readFilters();
  renderAll();
  if (go) document.getElementById(go)?.scrollIntoView({ block: "start" });
});

document.getElementById("tz").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "local";
document.getElementById("api-base").textContent = new URL("api/", base).pathname;
readFilters();
loadOnce();
connect();
if (hasExperience) setInterval(loadExperience, EXPERIENCE_POLL_MS);
