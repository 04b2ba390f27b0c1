/**
 * The trickle channels of live runners, on the orchestrator's own trickle server (the `/ai/trickle/`
 * mount, autocreate off, so only names made here exist):
 *
 * - **o2r**, one per dynamic runner: orchestrator → runner JSON messages, one per segment:
 *   `{"keep":"alive"}` every {@link O2R_KEEPALIVE_MS} (which also keeps the channel from the idle
 *   sweep) and `{"event":"reserved"|"released","session":id,"timestamp":ISO}` as sessions come and go.
 *   Its name carries 64 bits derived from the runner's secret seed (`{runnerId}-{16 base32}-o2r`).
 * - **session channels** a runner creates through its session callbacks, named
 *   `{sessionId}-{16 base32 of a per-session secret}-{name}` (go-livepeer uses `{sessionId}-{name}`,
 *   which anyone who saw a session id could guess; ours cannot be derived from the session id).
 *
 * A channel's URL is its credential: names are never logged here (the trickle server logs them
 * shortened).
 */
import type { Logger } from "../../node/logger.ts";
import type { SessionChannel } from "../../protocol/live-runners.ts";
import { LocalPublisher } from "../../trickle/local.ts";
import type { TrickleServer } from "../../trickle/server.ts";

/** Period of the o2r keep-alive message (go-livepeer: 10 s). */
export const O2R_KEEPALIVE_MS = 10_000;

/** The orchestrator-to-runner channel of one dynamic runner. */
export class O2rChannel {
  readonly name: string;
  readonly #publisher: LocalPublisher;
  readonly #timer: NodeJS.Timeout;
  readonly #log: Logger;
  #closed = false;

  constructor(trickle: TrickleServer, name: string, log: Logger, keepaliveMs = O2R_KEEPALIVE_MS) {
    this.name = name;
    this.#log = log;
    this.#publisher = new LocalPublisher(trickle, name, "application/json");
    this.#publisher.createChannel();
    this.#timer = setInterval(() => this.send({ keep: "alive" }), keepaliveMs);
    this.#timer.unref();
  }

  /** Publishes one JSON message as the next segment (dropped once closed). */
  send(message: Record<string, unknown>): void {
    if (this.#closed) return;
    // A Uint8Array is written synchronously, so messages keep their order.
    this.#publisher.write(Buffer.from(JSON.stringify(message))).catch((err: unknown) => {
      this.#log.debug({ err }, "live runner o2r message not written");
    });
  }

  /** Stops the keep-alive and removes the channel (subscribers see its end). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#publisher.close();
  }
}

export type { SessionChannel } from "../../protocol/live-runners.ts";

/** Creates, removes and names runner channels on one trickle server. */
export class RunnerChannels {
  readonly #trickle: TrickleServer;
  readonly #log: Logger;
  readonly #publicBase: () => string;
  readonly #internalBase: () => string;

  /**
   * @param publicBase the trickle mount as clients reach it (`{serviceUri}/ai/trickle/`)
   * @param internalBase the mount as runners reach it (`{liveRunnerAddr}/ai/trickle/`)
   */
  constructor(trickle: TrickleServer, log: Logger, publicBase: () => string, internalBase: () => string) {
    this.#trickle = trickle;
    this.#log = log;
    this.#publicBase = publicBase;
    this.#internalBase = internalBase;
  }

  /** Opens a runner's o2r channel. */
  openO2r(name: string): O2rChannel {
    return new O2rChannel(this.#trickle, name, this.#log);
  }

  /** The o2r channel as answered in the first heartbeat (runner-facing URL). */
  describeO2r(name: string): SessionChannel {
    const url = this.#internalBase() + name;
    return { name: "o2r", channel_name: name, url, internal_url: url, mime_type: "application/json" };
  }

  /** Creates a session channel (idempotent on the trickle server) and describes it. */
  create(shortName: string, channelName: string, mimeType: string): SessionChannel {
    this.#trickle.createChannel(channelName, mimeType);
    return {
      name: shortName,
      channel_name: channelName,
      url: this.#publicBase() + channelName,
      internal_url: this.#internalBase() + channelName,
      mime_type: mimeType,
    };
  }

  /** True while the channel exists (the trickle server's idle sweep may have removed it). */
  exists(channelName: string): boolean {
    return this.#trickle.getChannel(channelName) !== undefined;
  }

  /** Closes and removes a channel; false when it was already gone. */
  remove(channelName: string): boolean {
    return this.#trickle.deleteChannel(channelName);
  }
}
