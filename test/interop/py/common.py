"""Shared helpers of the Python interop peers: deterministic payloads and JSON-line output.

Every peer prints one JSON object per line on stdout; logs go to stderr.
"""

import hashlib
import json
import logging
import sys


def payload(seq: int, size: int, pattern: str = "counter") -> bytes:
    """Segment `seq` of a run: byte i is (seq*31 + i) mod 256 ("counter") or 0 ("zero")."""
    if pattern == "zero":
        return bytes(size)
    base = (seq * 31) % 256
    return bytes((base + i) % 256 for i in range(size))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def chunks(data: bytes, size: int):
    if size <= 0:
        yield data
        return
    for i in range(0, len(data), size):
        yield data[i : i + size]
