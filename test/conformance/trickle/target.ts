/**
 * What a target of the trickle conformance suite (../trickle-suite.ts) declares: how to start its
 * server, what it can configure and which optional features it has.
 */
import type { TrickleTlsOptions } from "../../../src/trickle/http-client.ts";

/** Server configuration a case may ask for. */
export interface TrickleTargetConfig {
  /** Create channels on demand (POST). The suite's default instance asks for true. */
  autocreate?: boolean;
  /** Interval of 100 Continue keepalives while a POST waits for its first byte. */
  continueIntervalMs?: number;
  /** Idle timeout and sweep interval of the channel sweeper. */
  idleTimeoutMs?: number;
  sweepIntervalMs?: number;
  /** Base path of the routes (default "/"); the instance's baseUrl must end with it. */
  basePath?: string;
  /** Publish channel additions and removals on the `_changes` channel. */
  changefeed?: boolean;
  /**
   * Install create/delete hooks that refuse channels named `deny<status>-…`: a 4xx status is a request
   * error answered with that status; a 5xx status is a generic hook failure (answered 500).
   */
  hooks?: boolean;
}

/** What a target can configure; cases needing anything else are skipped with a reason. */
export interface TrickleTargetConfigurable {
  autocreate?: boolean;
  continueInterval?: boolean;
  idleSweep?: boolean;
  hooks?: boolean;
  basePath?: boolean;
  changefeed?: boolean;
}

/** Optional server features; absent means supported. */
export interface TrickleTargetFeatures {
  /** `GET {ch}/next` (go-livepeer #3925). */
  next?: boolean;
  /** `Lp-Trickle-Reset` (go-livepeer #3990). */
  reset?: boolean;
  /** `POST {ch}` channel create. */
  channelCreate?: boolean;
  /** Odd channel names (percent-encoded slash, NUL, over-long) get a 4xx. go-livepeer accepts them. */
  strictChannelNames?: boolean;
  /** `DELETE {ch}/{negative idx}` answers 400. go-livepeer panics and drops the connection (docs/spec/upstream-quirks.md#negative-sequence-numbers). */
  safeNegativeDelete?: boolean;
}

/** A running target server. */
export interface TrickleTargetInstance {
  /** Base URL of the trickle routes, ending with "/" (e.g. `http://127.0.0.1:1234/`). */
  baseUrl: string;
  close(): Promise<void>;
  features?: TrickleTargetFeatures;
  /** How clients must connect (HTTP/2, TLS trust). */
  client?: { http2?: boolean; tls?: TrickleTlsOptions };
  /** Creates a channel in-process, bypassing autocreate (go-livepeer `LocalPublisher.CreateChannel`). */
  createChannel?(name: string, mimeType: string): Promise<void>;
}

/** A server implementation under test. */
export interface TrickleTarget {
  name: string;
  /** Which configuration options {@link start} honours. */
  configurable?: TrickleTargetConfigurable;
  start(config: TrickleTargetConfig): Promise<TrickleTargetInstance>;
}
