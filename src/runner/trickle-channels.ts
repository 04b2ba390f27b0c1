/**
 * The {@link ChannelFactory} over real trickle channels: `TricklePublisher` for the events and data
 * channels (one segment per write), `TrickleSubscriber` for the control channel (each segment read
 * whole). Orchestrators serve trickle on their TLS port with self-signed certificates, so certificate
 * checks are off by default (as pytrickle does), and can be turned on.
 */

import type { SegmentStream } from "../media/output.ts";
import type { Logger } from "../node/logger.ts";
import { TrickleStreamNotFoundError } from "../trickle/client-errors.ts";
import { TricklePublisher } from "../trickle/publisher.ts";
import { TrickleSubscriber } from "../trickle/subscriber.ts";
import type { ChannelFactory, SegmentSink, SegmentSource } from "./channels.ts";

/** Options of {@link TrickleChannels}. */
export interface TrickleChannelsOptions {
  /** Verify TLS certificates of https:// channels. Default false (self-signed orchestrators). */
  verifyTls?: boolean;
  logger?: Logger;
}

/** Opens trickle publishers and subscribers for a stream session. */
export class TrickleChannels implements ChannelFactory {
  readonly #opts: TrickleChannelsOptions;

  constructor(options: TrickleChannelsOptions = {}) {
    this.#opts = options;
  }

  /**
   * A sink for `url`. Besides whole segments (`write`) it streams them (`begin`): the media loop
   * writes each MPEG-TS segment's bytes as they are muxed, so subscribers see a segment while it is
   * being encoded instead of ~2 s later.
   */
  publish(url: string, contentType: string): SegmentSink & { begin(): Promise<SegmentStream> } {
    const pub = new TricklePublisher(url, {
      mimeType: contentType,
      tls: { insecure: !this.#opts.verifyTls },
      ...(this.#opts.logger ? { logger: this.#opts.logger } : {}),
    });
    return {
      write: async (body) => {
        await pub.write(body);
      },
      begin: async () => {
        const writer = await pub.next();
        return {
          write: (chunk) => writer.write(chunk),
          end: async () => {
            await writer.end();
          },
        };
      },
      close: () => pub.close(),
    };
  }

  subscribe(url: string): SegmentSource {
    // -2: the segment being written now, so params the gateway sent just before we subscribed arrive too.
    const sub = new TrickleSubscriber(url, {
      start: -2,
      tls: { insecure: !this.#opts.verifyTls },
      ...(this.#opts.logger ? { logger: this.#opts.logger } : {}),
    });
    return {
      close: async () => sub.close(),
      [Symbol.asyncIterator]: async function* () {
        try {
          for await (const segment of sub) yield await segment.bytes();
        } catch (err) {
          if (err instanceof TrickleStreamNotFoundError) return; // the channel is gone: the end
          throw err;
        }
      },
    };
  }
}
