/**
 * Keep-alive client agents with Nagle's algorithm off on every connection they open.
 *
 * Node's `http`/`https` clients leave Nagle on: a request whose headers go out before its body (a
 * trickle preconnect, a streamed upload, `flushHeaders()`) then holds the first body bytes until the
 * server acknowledges the headers, which Linux delays by up to ~40 ms. Every outgoing HTTP/1.1
 * connection of a node takes its agent from here.
 */
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";

type CreateConnection = (options: object, callback?: (err: Error | null, socket: Duplex) => void) => Duplex;

function withNoDelay(create: CreateConnection): CreateConnection {
  return (options, callback) => {
    const socket = create(options, callback);
    (socket as Duplex & { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
    return socket;
  };
}

/** An `http.Agent` whose sockets have Nagle off (`keepAlive` defaults to true). */
export function httpAgent(options: http.AgentOptions = {}): http.Agent {
  const agent = new http.Agent({ keepAlive: true, ...options });
  const create = agent.createConnection.bind(agent) as unknown as CreateConnection;
  agent.createConnection = withNoDelay(create) as unknown as typeof agent.createConnection;
  return agent;
}

/** An `https.Agent` whose sockets have Nagle off (`keepAlive` defaults to true). */
export function httpsAgent(options: https.AgentOptions = {}): https.Agent {
  const agent = new https.Agent({ keepAlive: true, ...options });
  const create = agent.createConnection.bind(agent) as unknown as CreateConnection;
  agent.createConnection = withNoDelay(create) as unknown as typeof agent.createConnection;
  return agent;
}
