/**
 * Runs the trickle conformance suite against our server: over HTTP/1.1, and over HTTP/2 with TLS
 * (a self-signed certificate generated for the run with the openssl CLI).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
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

/** A throwaway self-signed certificate for 127.0.0.1, or undefined when openssl is missing. */
function selfSignedCert(): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "trickle-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    return {
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      key: readFileSync(join(dir, "key.pem"), "utf8"),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

trickleConformance(ourTarget("tributary server, HTTP/1.1"));

const cert = selfSignedCert();
if (cert) {
  trickleConformance(ourTarget("tributary server, HTTP/2 over TLS", cert));
} else {
  describe("trickle conformance: tributary server, HTTP/2 over TLS", () => {
    test("needs the openssl CLI to make a test certificate", (t) => t.skip("openssl not found"));
  });
}
