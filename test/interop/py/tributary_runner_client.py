"""A PyPI livepeer-gateway 1.0.0 live runner client calling TRIBUTARY runners (the SDK's
`startLiveRunner`) through a Tributary orchestrator (test/interop/runner-sdk-livepeer-gateway.test.ts).
Offchain only.

  tributary_runner_client.py --orch https://HOST:PORT

- `discover_orchestrator_runners`, then `call_runner` on the single-shot `interop/once` URL (JSON);
- `reserve_session` for `example/tokens` (examples/runner-sse), `call_runner` on `/notes` (the runner
  creates a session trickle channel through its callbacks), `call_runner(stream=True)` on
  `/generate` (SSE tokens), then `session.aclose()` (stop).

Output: JSON lines on stdout (test/interop/peers.ts); logs on stderr.
"""

import argparse
import asyncio
import json

from common import emit, setup_logging


async def main(orch: str) -> None:
    from livepeer_gateway.discovery import discover_orchestrator_runners
    from livepeer_gateway.live_runner import call_runner
    from livepeer_gateway.selection import reserve_session

    entries = await discover_orchestrator_runners(orch)
    runners = entries[0]["runners"] if entries else []
    emit(event="discovery", runners=[{"url": r["url"], "app": r["app"], "mode": r.get("mode")} for r in runners])
    once_url = next(r["url"] for r in runners if r["app"] == "interop/once")

    single = await call_runner(f"{once_url}/echo", payload={"q": "single"})
    emit(event="single_shot", data=single.data)

    session = await reserve_session(orchestrators=orch, app="example/tokens")
    emit(event="reserved", session_id=session.session_id, app_url=session.app_url)
    notes = await call_runner(f"{session.app_url}/notes", payload={})
    emit(event="notes", data=notes.data)
    tokens = []
    async with await call_runner(
        f"{session.app_url}/generate", payload={"prompt": "alpha beta gamma", "delay_ms": 20}, stream=True
    ) as stream:
        content_type = stream.content_type
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                tokens.append(line[5:].strip())
    emit(event="sse", status=stream.status, content_type=content_type, data=tokens)
    await session.aclose()
    emit(event="stopped", released=session.released)
    emit(event="end")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orch", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    setup_logging(args.verbose)
    try:
        asyncio.run(main(args.orch))
    except Exception as e:  # reported as a line, the test shows it
        emit(event="error", error=f"{type(e).__name__}: {e}")
        raise
