/**
 * The shared kit of the trickle conformance suite's areas: fresh channel names, the raw HTTP
 * transport, body readers, the suite's timings, and {@link TrickleSuite}, the running suite a case
 * reads its target and instances from.
 */
import assert from "node:assert/strict";
import { readText, TrickleHttpClient, type TrickleRequest } from "../../../src/trickle/http-client.ts";
import type {
  TrickleTarget,
  TrickleTargetConfig,
  TrickleTargetConfigurable,
  TrickleTargetFeatures,
  TrickleTargetInstance,
} from "./target.ts";

let channelCounter = 0;
/** A fresh channel name; tests never share channels. */
export function uniqueChannel(prefix = "conf"): string {
  channelCounter += 1;
  return `${prefix}-${process.pid}-${channelCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export const enc = (s: string) => new TextEncoder().encode(s);
/** Time given to a request to reach the server before a racing request (Go's tests sleep likewise). */
export const SETTLE_MS = 200;

interface RawResult {
  status: number;
  headers: Headers;
  text: string;
}

/** Raw HTTP against one instance. */
export class Raw {
  readonly base: string;
  readonly client: TrickleHttpClient;
  readonly instance: TrickleTargetInstance;
  constructor(instance: TrickleTargetInstance) {
    this.instance = instance;
    this.base = instance.baseUrl.endsWith("/") ? instance.baseUrl : `${instance.baseUrl}/`;
    this.client = new TrickleHttpClient({
      ...(instance.client?.http2 ? { http2: true } : {}),
      ...(instance.client?.tls ? { tls: instance.client.tls } : {}),
    });
  }
  get clientOptions() {
    return {
      ...(this.instance.client?.http2 ? { http2: true } : {}),
      ...(this.instance.client?.tls ? { tls: this.instance.client.tls } : {}),
    };
  }
  url(path: string): string {
    return `${this.base}${path}`;
  }
  /** A whole request: status, headers, body text. */
  async req(method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}) {
    const r = this.client.request(this.url(path), {
      method,
      headers: opts.headers ?? {},
      body: opts.body === undefined ? (method === "POST" ? new Uint8Array(0) : undefined) : enc(opts.body),
    });
    const res = await r.response;
    return { status: res.status, headers: res.headers, text: await readText(res.body) } satisfies RawResult;
  }
  /** A request whose response is returned with its body unread. */
  open(method: string, path: string, headers: Record<string, string> = {}): TrickleRequest {
    return this.client.request(this.url(path), { method, headers });
  }
  /** A streaming POST: headers go out now, body chunks with `write`. */
  post(
    path: string,
    headers: Record<string, string> = {},
    onInterim?: (status: number) => void,
  ): TrickleRequest {
    return this.client.request(this.url(path), {
      method: "POST",
      headers: { "content-type": "text/plain", ...headers },
      body: "stream",
      ...(onInterim ? { onInterim } : {}),
    });
  }
  /** Publishes one whole segment. */
  async publish(ch: string, seq: number | string, body: string, headers: Record<string, string> = {}) {
    return this.req("POST", `${ch}/${seq}`, { headers: { "content-type": "text/plain", ...headers }, body });
  }
  close(): void {
    this.client.close();
  }
}

/** Reads the next chunk of a streaming body as text. */
export async function nextChunk(it: AsyncIterator<Uint8Array>): Promise<string> {
  const r = await it.next();
  assert.equal(r.done, false, "expected more body bytes");
  return Buffer.from(r.value).toString();
}

export async function restText(it: AsyncIterator<Uint8Array>): Promise<string> {
  let out = "";
  for (;;) {
    const r = await it.next();
    if (r.done) return out;
    out += Buffer.from(r.value).toString();
  }
}

/** The time limit of a wait for a condition (a safety net, not a timing assertion). */
export const WAIT_MS = 5000;

/** The running suite of one target, handed to each area's cases. */
export interface TrickleSuite {
  readonly target: TrickleTarget;
  /** The default instance (autocreate on), started before the first case. */
  readonly inst: TrickleTargetInstance;
  /** Raw HTTP against {@link inst}. */
  readonly raw: Raw;
  /** Whether the default instance has an optional feature (absent means supported). */
  feature(f: keyof TrickleTargetFeatures): boolean;
  /** Whether the target can apply a configuration option. */
  can(k: keyof TrickleTargetConfigurable): boolean;
  /** The skip reason for a configuration the target cannot apply. */
  why(what: string): string;
  /** Starts an extra instance with a configuration; closed after the suite. */
  startWith(config: TrickleTargetConfig): Promise<Raw>;
  /**
   * Waits until the server has the first byte of segment `seq` (its /next moved past it): requests on
   * other connections may otherwise overtake a POST on a multi-threaded server.
   */
  started(ch: string, seq: number, via?: Raw): Promise<void>;
}
