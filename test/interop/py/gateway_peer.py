"""Drives PyPI livepeer-gateway's trickle TricklePublisher / TrickleSubscriber against a trickle server.

  gateway_peer.py publish   --url URL --count N --size BYTES [--start-seq -1] [--create]
  gateway_peer.py subscribe --url URL [--start -2] [--count N]

The publisher starts at -1 by default: it resolves the seq with GET {url}/next and sends its first
POST with Lp-Trickle-Reset: 1. Output: JSON lines, see test/interop/peers.ts.
"""

import argparse
import asyncio
import sys

from common import chunks, emit, payload, setup_logging, sha256


async def publish(args) -> int:
    from livepeer_gateway.trickle_publisher import TricklePublisher, TricklePublishError

    pub = TricklePublisher(args.url, args.mime, start_seq=args.start_seq)
    code = 0
    try:
        if args.create:
            await pub.create()
            emit(event="created")
        for i in range(args.count):
            data = payload(args.payload_offset + i, args.size, args.pattern)
            try:
                async with await pub.next() as writer:
                    for part in chunks(data, args.chunk):
                        await writer.write(part)
                emit(event="segment", seq=writer.seq(), bytes=len(data), sha256=sha256(data))
            except TricklePublishError as exc:
                emit(event="error", type=type(exc).__name__, message=str(exc))
                code = 1
                break
        # Segments complete asynchronously; wait for their POSTs before close() cancels them.
        for _ in range(500):
            stats = pub.get_stats()
            if stats.segments_completed + stats.segments_failed >= stats.segments_started:
                break
            await asyncio.sleep(0.02)
        stats = pub.get_stats()
        emit(
            event="stats",
            segments_started=stats.segments_started,
            segments_completed=stats.segments_completed,
            segments_failed=stats.segments_failed,
            post_404=stats.post_404,
            terminal_error=stats.terminal_error,
        )
        if args.close_on_stdin:
            # The caller decides when to close (e.g. once its subscribers wait for the next seq).
            emit(event="waiting")
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    finally:
        if not args.no_close:
            await pub.close()
    emit(event="end", reason="closed" if not args.no_close else "left-open")
    return code


async def subscribe(args) -> int:
    from livepeer_gateway.trickle_subscriber import TrickleSubscriber

    sub = TrickleSubscriber(args.url, start_seq=args.start)
    got = 0
    reason = "count"
    try:
        while args.count == 0 or got < args.count:
            segment = await sub.next()
            if segment is None:
                stats = sub.get_stats()
                reason = "not_found" if stats.get_404_eos else ("eos" if stats.get_failures == 0 else "error")
                break
            parts = []
            reader = segment.make_reader()
            while True:
                chunk = await reader.read()
                if not chunk:
                    break
                parts.append(chunk)
            await segment.close()
            data = b"".join(parts)
            emit(event="segment", seq=segment.seq(), bytes=len(data), sha256=sha256(data))
            got += 1
        stats = sub.get_stats()
        emit(
            event="stats",
            get_attempts=stats.get_attempts,
            get_404_eos=stats.get_404_eos,
            get_470_reset=stats.get_470_reset,
            get_failures=stats.get_failures,
        )
    finally:
        await sub.close()
    emit(event="end", reason=reason, segments=got)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["publish", "subscribe"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--pattern", default="counter")
    parser.add_argument("--payload-offset", type=int, default=0)
    parser.add_argument("--mime", default="application/octet-stream")
    parser.add_argument("--start-seq", type=int, default=-1)
    parser.add_argument("--start", type=int, default=-2)
    parser.add_argument("--create", action="store_true")
    parser.add_argument("--no-close", action="store_true")
    parser.add_argument("--close-on-stdin", action="store_true", help="close() only after a line on stdin")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    setup_logging(args.verbose)
    run = publish if args.mode == "publish" else subscribe
    try:
        return asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        emit(event="end", reason="timeout")
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
