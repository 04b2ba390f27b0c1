/**
 * The benchmark's floor: the least an HTTP relay can do in Node. `GET /{ch}/{seq}` registers a reader
 * (headers are sent at once); `POST /{ch}/{seq}` writes each incoming chunk to the readers registered
 * for that path at that moment and keeps nothing. No ring, no late joiners, no backpressure.
 *
 *   node bench/trickle/pipe-server.ts      prints "listening on http://127.0.0.1:<port>/"
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const readers = new Map<string, Set<ServerResponse>>();

const server = createServer({ requestTimeout: 0 }, (req, res) => {
  const path = req.url ?? "/";
  if (req.method === "GET") {
    let set = readers.get(path);
    if (set === undefined) {
      set = new Set();
      readers.set(path, set);
    }
    set.add(res);
    res.on("close", () => set.delete(res));
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.flushHeaders();
    return;
  }
  if (req.method === "POST") {
    const targets = readers.get(path) ?? new Set<ServerResponse>();
    readers.delete(path);
    req.on("data", (chunk: Buffer) => {
      for (const r of targets) r.write(chunk);
    });
    req.on("end", () => {
      for (const r of targets) r.end();
      res.end();
    });
    req.on("error", () => {});
    return;
  }
  res.statusCode = 405;
  res.end();
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
