/**
 * One hop of the gateway benchmark's baseline, a bare Node proxy with nothing of ours in it: each
 * request is piped to `<upstream><path>` over a keep-alive agent and the answer piped back. Two of
 * them, each in its own process, make the two-hop path the gateway and orchestrator are compared
 * with: client → (HTTP) hop 1 → (HTTPS, keep-alive, self-signed, as gateway → orchestrator) hop 2 →
 * (HTTP, keep-alive) container.
 *
 * Prints `LISTENING <url>` once it serves, answers `STATS` on stdin as bench/gateway/nodes.ts does,
 * and exits when its stdin closes.
 *
 *   node bench/gateway/bare-proxy.ts <upstream url> [--tls]
 */
import { createServer as createHttpServer, Agent as HttpAgent, request as httpRequest } from "node:http";
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { createSelfSignedCertificate } from "../../src/node/server.ts";

const upstream = process.argv[2];
if (!upstream) {
  process.stderr.write("usage: node bench/gateway/bare-proxy.ts <upstream url> [--tls]\n");
  process.exit(2);
}
const tls = process.argv.includes("--tls");
const toHttps = upstream.startsWith("https:");
const agent = toHttps
  ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: false })
  : new HttpAgent({ keepAlive: true });
const send = toHttps ? httpsRequest : httpRequest;

const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.connection;
  const out = send(`${upstream}${req.url}`, { method: req.method, headers, agent }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  out.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(out);
};
const server = tls
  ? createHttpsServer(createSelfSignedCertificate(["127.0.0.1"]), handler)
  : createHttpServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`LISTENING ${tls ? "https" : "http"}://127.0.0.1:${port}\n`);
});
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() !== "STATS") return;
  const cpu = process.cpuUsage();
  process.stdout.write(
    `STATS ${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, rssBytes: process.memoryUsage.rss() })}\n`,
  );
});
process.stdin.resume();
process.stdin.on("end", () => {
  agent.destroy();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
