"""Drives PyPI pytrickle's TricklePublisher / TrickleSubscriber against a trickle server.

  pytrickle_peer.py publish   --url URL --count N --size BYTES [--chunk BYTES] [--mime TYPE]
  pytrickle_peer.py subscribe --url URL [--start -2] [--count N] [--timeout S]

Output: JSON lines ({"event": "segment", "seq", "bytes", "sha256"}, {"event": "error", "type", ...},
{"event": "end", "reason"}), see test/interop/peers.ts.
"""

import argparse
import asyncio
import time

from common import chunks, emit, payload, setup_logging, sha256


async def publish(args) -> int:
    from pytrickle import TricklePublisher

    errors = []

    async def on_error(kind, exc):
        errors.append(kind)
        emit(event="error", type=kind, message=str(exc))

    pub = TricklePublisher(args.url, mime_type=args.mime, error_callback=on_error)
    await pub.start()
    for seq in range(args.count):
        data = payload(seq, args.size, args.pattern)
        writer = await pub.next()
        for part in chunks(data, args.chunk):
            await writer.write(part)
        await writer.close()
        emit(event="segment", seq=seq, bytes=len(data), sha256=sha256(data))
        # next() does not advance the index itself: a background task does, and an unbounded
        # asyncio.Queue never yields. A producer that calls next() again before that task ran posts
        # the next segment to the same seq (the server appends it). Real producers await between
        # segments; wait here until the preconnect of seq+1 exists, as they effectively do.
        deadline = time.monotonic() + args.drain_timeout
        while (pub.idx <= seq or pub.next_writer is None) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
    # pytrickle does not await a POST's response in SegmentWriter.close(); wait until every POST is
    # done, or only one (the preconnect for the next seq, which waits for a body forever) has been
    # left running for a while: the last segment's POST may still be reading its answer (a 404, say)
    # while the preconnect already finished, and close() would cancel it before it reports.
    deadline = time.monotonic() + args.drain_timeout
    one_left_since = None
    while time.monotonic() < deadline:
        running = [t for t in pub._background_tasks if not t.done()]
        if not running:
            break
        if len(running) == 1:
            one_left_since = one_left_since or time.monotonic()
            if time.monotonic() - one_left_since >= 0.3:
                break
        else:
            one_left_since = None
        await asyncio.sleep(0.02)
    if args.wait_error:
        # close() silences errors of POSTs still in flight: give pytrickle the chance to report.
        deadline = time.monotonic() + args.drain_timeout
        while not errors and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    await pub.close()
    emit(event="end", reason="closed", errors=errors)
    return 1 if errors else 0


async def subscribe(args) -> int:
    from pytrickle import TrickleSubscriber

    errors = []

    async def on_error(kind, exc):
        errors.append(kind)
        emit(event="error", type=kind, message=str(exc))

    sub = TrickleSubscriber(args.url, start_seq=args.start, error_callback=on_error)
    await sub.start()
    got = 0
    reason = "count"
    try:
        while args.count == 0 or got < args.count:
            segment = await sub.next()
            if segment is None:
                # next() returns None both for EOS (Lp-Trickle-Closed) and after an error callback.
                reason = "error" if errors else "eos"
                break
            seq = segment.seq()
            parts = []
            while True:
                chunk = await segment.read()
                if not chunk:
                    break
                parts.append(chunk)
            data = b"".join(parts)
            emit(event="segment", seq=seq, bytes=len(data), sha256=sha256(data))
            got += 1
    finally:
        await sub.close()
    emit(event="end", reason=reason, segments=got, errors=errors)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["publish", "subscribe"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--pattern", default="counter")
    parser.add_argument("--mime", default="application/octet-stream")
    parser.add_argument("--start", type=int, default=-2)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--drain-timeout", type=float, default=10)
    parser.add_argument(
        "--wait-error",
        action="store_true",
        help="publish: before close(), wait (up to --drain-timeout) for pytrickle to report an error",
    )
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
