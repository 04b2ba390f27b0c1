/**
 * Who may make the signer spend its deposit.
 *
 * - **Static bearer tokens** (`--auth-tokens FILE`, lines `<app> <token>`): a request must carry
 *   `Authorization: Bearer <token>`; the app is the token's name. Compared in constant time.
 * - **Auth webhook** (`--remote-signer-webhook-url`, go-livepeer `-remoteSignerWebhookUrl`, with
 *   `--remote-signer-webhook-headers`): every payment request is POSTed as
 *   `{"headers": {name: [values]}, "state": {…}}` (go-livepeer's shape); the answer
 *   `{"status": 200, "reason"?, "expiry"?, "auth_id"?, "app"?, "max_price_per_unit"?}` approves it,
 *   any other `status` refuses it with that status and `reason`. `expiry` (unix seconds) lets the
 *   session skip the webhook until then; `app` names the app its spending counts against;
 *   `max_price_per_unit` (wei, `n`, `n/d` or decimal) is a price ceiling for this request. A webhook
 *   that fails or answers anything but HTTP 200 with a JSON status refuses the request (500), as upstream.
 * - **Neither**: anybody who reaches the port may spend. {@link checkExposure} refuses to start so on
 *   an address other than loopback unless `--remote-signer-allow-no-auth` is given.
 *
 * Tokens and webhook compose: the token names the app (and is checked first), the webhook may rename
 * it and adds ceilings.
 */
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";

/** The app of requests no token or webhook names. */
export const DEFAULT_APP = "default";
/** Time allowed for one webhook call (go-livepeer's 5 s). */
export const WEBHOOK_TIMEOUT_MS = 5_000;

/** The warning logged when a signer on a non-loopback address runs without auth. */
export const NO_AUTH_WARNING =
  "remote signer running without authentication on a non-loopback address: anyone who can reach it can spend this account's deposit";

/** The request is not authenticated (401). */
export class SignerAuthError extends TributaryError {
  constructor(message: string) {
    super("SIGNER_UNAUTHORIZED", message, { status: 401 });
  }
}

/** Options of {@link SignerAuth}. */
export interface SignerAuthOptions {
  /** token → app. */
  tokens?: ReadonlyMap<string, string>;
  webhookUrl?: string;
  webhookHeaders?: Readonly<Record<string, string>>;
  /** For tests; default global fetch. */
  fetch?: typeof fetch;
  logger?: Logger;
}

/** What auth decided about a request. */
export interface Approval {
  app: string;
  /** Ceiling on the orchestrator's price (wei per unit) for this request, if any. */
  maxPricePerUnit?: Rat;
  /** Unix seconds: skip the webhook for this session until then. */
  expiry?: number;
  authId?: string;
}

/** Parses `--auth-tokens` file text: `<app> <token>` per line, `#` comments. */
export function parseTokenFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2 || parts[1]!.length < 16)
      throw new TributaryError(
        "BAD_AUTH_TOKENS",
        `auth tokens line ${i + 1}: expected "<app> <token>" with a token of at least 16 characters`,
        { status: 400 },
      );
    out.set(parts[1]!, parts[0]!);
  });
  return out;
}

/** Parses go-livepeer-style headers: `Name: value, Other: value` (also `Name=value`). */
export function parseHeaderList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(",")) {
    const t = item.trim();
    if (t === "") continue;
    const at = t.search(/[:=]/);
    if (at <= 0)
      throw new TributaryError("BAD_HEADERS", `header "${t}" is not "Name: value"`, { status: 400 });
    out[t.slice(0, at).trim()] = t.slice(at + 1).trim();
  }
  return out;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/**
 * Refuses (throws) a signer without tokens or webhook on a non-loopback `host` unless `allowNoAuth`;
 * with it, logs {@link NO_AUTH_WARNING}.
 */
export function checkExposure(
  host: string,
  auth: { tokens?: ReadonlyMap<string, string>; webhookUrl?: string },
  allowNoAuth: boolean,
  logger?: Logger,
): void {
  if ((auth.tokens?.size ?? 0) > 0 || auth.webhookUrl !== undefined || isLoopbackHost(host)) return;
  if (!allowNoAuth)
    throw new TributaryError(
      "SIGNER_NO_AUTH",
      `refusing to sign without authentication on ${host}: give --auth-tokens or --remote-signer-webhook-url, listen on 127.0.0.1, or pass --remote-signer-allow-no-auth`,
      { status: 500 },
    );
  logger?.warn({ host }, NO_AUTH_WARNING);
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}

/** See the module documentation. */
export class SignerAuth {
  readonly #o: SignerAuthOptions;
  readonly #tokens: { token: Buffer; app: string }[];

  constructor(options: SignerAuthOptions = {}) {
    this.#o = options;
    this.#tokens = [...(options.tokens ?? new Map()).entries()].map(([token, app]) => ({
      token: Buffer.from(token),
      app,
    }));
  }

  /** True when tokens are configured: every route then needs one. */
  get needsToken(): boolean {
    return this.#tokens.length > 0;
  }

  /** The app of the request's bearer token; throws {@link SignerAuthError}; DEFAULT_APP without tokens. */
  appOf(headers: Record<string, string | string[] | undefined>): string {
    if (this.#tokens.length === 0) return DEFAULT_APP;
    const m = /^Bearer\s+(\S+)$/i.exec(headerValue(headers, "authorization").trim());
    if (!m) throw new SignerAuthError("missing bearer token: send Authorization: Bearer <token>");
    const got = Buffer.from(m[1]!);
    let app: string | undefined;
    // Every token is compared (no early exit), each in constant time.
    for (const t of this.#tokens)
      if (t.token.length === got.length && timingSafeEqual(t.token, got)) app ??= t.app;
    if (app === undefined) throw new SignerAuthError("unknown bearer token");
    return app;
  }

  /**
   * Approves a payment request: the token's app, then the webhook (unless `expiry` of the session
   * is still ahead). Throws {@link SignerAuthError} or the webhook's refusal.
   */
  async approve(
    headers: Record<string, string | string[] | undefined>,
    state: Record<string, unknown> | undefined,
    session: { authExpiry: number; app: string } | undefined,
  ): Promise<Approval> {
    const app = this.appOf(headers);
    const url = this.#o.webhookUrl;
    if (url === undefined) return { app };
    if (session && session.authExpiry > 0 && Date.now() / 1000 <= session.authExpiry)
      return { app: session.app, expiry: session.authExpiry };
    const wire: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || k.startsWith(":")) continue;
      wire[k] = Array.isArray(v) ? v : [v];
    }
    let status: number;
    let text: string;
    try {
      const res = await (this.#o.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.#o.webhookHeaders },
        body: JSON.stringify({ headers: wire, ...(state ? { state } : {}) }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      this.#o.logger?.warn({ err }, "signer auth webhook failed");
      throw new TributaryError("SIGNER_WEBHOOK_FAILED", "the signer's auth webhook could not be reached", {
        status: 500,
      });
    }
    if (status !== 200)
      throw new TributaryError("SIGNER_WEBHOOK_FAILED", `the signer's auth webhook answered HTTP ${status}`, {
        status: 500,
      });
    let body: {
      status?: unknown;
      reason?: unknown;
      expiry?: unknown;
      auth_id?: unknown;
      app?: unknown;
      max_price_per_unit?: unknown;
    };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new TributaryError("SIGNER_WEBHOOK_FAILED", "the signer's auth webhook answered no JSON", {
        status: 500,
      });
    }
    if (typeof body.status !== "number" || !Number.isInteger(body.status) || body.status <= 0)
      throw new TributaryError(
        "SIGNER_WEBHOOK_FAILED",
        "the signer's auth webhook answered no valid status",
        {
          status: 500,
        },
      );
    if (body.status !== 200) {
      const reason =
        typeof body.reason === "string" && body.reason !== ""
          ? body.reason
          : `signer auth rejected request with status ${body.status}`;
      throw new TributaryError("SIGNER_REFUSED", reason, { status: body.status });
    }
    let maxPricePerUnit: Rat | undefined;
    if (body.max_price_per_unit !== undefined) {
      try {
        maxPricePerUnit = Rat.parse(String(body.max_price_per_unit));
      } catch {
        throw new TributaryError(
          "SIGNER_WEBHOOK_FAILED",
          "the signer's auth webhook sent a bad max_price_per_unit",
          {
            status: 500,
          },
        );
      }
    }
    return {
      app: typeof body.app === "string" && body.app !== "" ? body.app : app,
      ...(maxPricePerUnit ? { maxPricePerUnit } : {}),
      ...(typeof body.expiry === "number" ? { expiry: body.expiry } : {}),
      ...(typeof body.auth_id === "string" && body.auth_id !== "" ? { authId: body.auth_id } : {}),
    };
  }
}
