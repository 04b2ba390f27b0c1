/**
 * Runs the trickle conformance suite against our server: over HTTP/1.1, and over HTTP/2 with TLS
 * (a self-signed certificate made for the run).
 */

import { createSelfSignedCertificate } from "../../src/node/server.ts";
import { startTrickleServer, TrickleRequestError } from "../../src/trickle/server.ts";
import { type TrickleTarget, type TrickleTargetConfig, trickleConformance } from "./trickle-suite.ts";

/** Hook used when a case asks for hooks: refuses `deny<status>-…` channels. */
function denyHook(name: string): void {
  const m = /^deny(\d{3})-/.exec(name);
  if (!m) return;
  const status = Number(m[1]);
  if (status < 500) throw new TrickleRequestError(status, `channel refused by hook (${status})`);
  throw new Error("hook failed");
}

function ourTarget(name: string, tls?: { cert: string; key: string }): TrickleTarget {
  return {
    name,
    configurable: {
      autocreate: true,
      continueInterval: true,
      idleSweep: true,
      hooks: true,
      basePath: true,
      changefeed: true,
    },
    async start(config: TrickleTargetConfig) {
      const running = await startTrickleServer({
        host: "127.0.0.1",
        port: 0,
        autocreate: config.autocreate ?? true,
        ...(config.basePath === undefined ? {} : { basePath: config.basePath }),
        ...(config.changefeed ? { changefeed: true } : {}),
        ...(config.continueIntervalMs === undefined ? {} : { continueIntervalMs: config.continueIntervalMs }),
        ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
        ...(config.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: config.sweepIntervalMs }),
        ...(config.hooks ? { beforeCreate: denyHook, beforeDelete: denyHook } : {}),
        ...(tls ? { tls } : {}),
      });
      return {
        baseUrl: running.url,
        close: () => running.close(),
        ...(tls ? { client: { http2: true, tls: { ca: tls.cert } } } : {}),
        createChannel: async (channel: string, mimeType: string) => {
          running.trickle.createChannel(channel, mimeType);
        },
      };
    },
  };
}

trickleConformance(ourTarget("tributary server, HTTP/1.1"));

trickleConformance(ourTarget("tributary server, HTTP/2 over TLS", createSelfSignedCertificate()));
