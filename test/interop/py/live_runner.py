"""A live runner and a live runner client, both PyPI livepeer-gateway 1.0.0, against an orchestrator
(Tributary's, in test/interop/live-runner.test.ts). Offchain only (no signer).

  live_runner.py --orch https://HOST:PORT --secret S

One process plays both sides:

- the runner: an aiohttp app on 127.0.0.1 (`POST /echo` answers what it got, the four session
  headers included, and in a session creates trickle channels through `create_trickle_channels`
  with the incoming request; `GET /sse` streams three events), registered twice with
  `register_runner` (persistent `interop/echo`, single-shot `interop/once`), heartbeating, with
  `on_session_reserve` / `on_session_release` callbacks fed by the o2r channel;
- the client: `discover_orchestrator_runners`, `call_runner` on the single-shot URL,
  `reserve_session`, `call_runner` on the session's app URL (JSON, then SSE with stream=True),
  `session.aclose()` (stop).

Output: JSON lines on stdout (test/interop/peers.ts); logs on stderr.
"""

import argparse
import asyncio
import json

from aiohttp import web

from common import emit, setup_logging


async def main(orch: str, secret: str) -> None:
    from livepeer_gateway.discovery import discover_orchestrator_runners
    from livepeer_gateway.live_runner import call_runner, create_trickle_channels, register_runner
    from livepeer_gateway.selection import reserve_session

    events: list = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        channels = []
        if request.headers.get("Livepeer-Session-Control") and request.query.get("channels"):
            made = await create_trickle_channels(request, [{"name": "events", "mime_type": "application/json"}])
            channels = [{"name": c["name"], "has_url": bool(c["url"]), "mime_type": c["mime_type"]} for c in made]
        return web.json_response(
            {
                "body": body,
                "path": request.path,
                "route": request.headers.get("Livepeer-Runner-Route", ""),
                "session_id": request.headers.get("Livepeer-Session-Id", ""),
                "has_token": bool(request.headers.get("Livepeer-Session-Token")),
                "has_control": bool(request.headers.get("Livepeer-Session-Control")),
                "channels": channels,
            }
        )

    async def sse(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for n in range(3):
            await resp.write(f"data: {json.dumps({'n': n})}\n\n".encode())
            await asyncio.sleep(0.05)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/sse", sse)
    app.router.add_post("/sse", sse)
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    runner_url = f"http://127.0.0.1:{port}"

    def on_event(e) -> None:
        events.append({"event": e.event, "session": e.session_id})

    persistent = await register_runner(
        orch,
        secret=secret,
        runner_url=runner_url,
        app="interop/echo",
        mode="persistent",
        capacity=2,
        auto_detect_gpu=False,
        on_session_reserve=on_event,
        on_session_release=on_event,
    )
    once = await register_runner(
        orch, secret=secret, runner_url=runner_url, app="interop/once", mode="single-shot", auto_detect_gpu=False
    )
    emit(
        event="registered",
        runner_id=persistent.runner_id,
        single_shot_id=once.runner_id,
        has_o2r=persistent.o2r_channel is not None,
        ttl=persistent.heartbeat_ttl_s,
        interval=persistent.heartbeat_interval_s,
    )
    try:
        entries = await discover_orchestrator_runners(orch)
        runners = entries[0]["runners"] if entries else []
        emit(event="discovery", runners=[{"url": r["url"], "app": r["app"], "mode": r.get("mode")} for r in runners])
        once_url = next(r["url"] for r in runners if r["app"] == "interop/once")

        single = await call_runner(f"{once_url}/echo", payload={"q": "single"})
        emit(event="single_shot", data=single.data)

        session = await reserve_session(orchestrators=orch, app="interop/echo")
        emit(event="reserved", session_id=session.session_id, app_url=session.app_url, control_url=session.control_url)
        called = await call_runner(f"{session.app_url}/echo?channels=1", payload={"q": "persistent"})
        emit(event="persistent", data=called.data)
        lines = []
        async with await call_runner(f"{session.app_url}/sse", method="GET", stream=True) as stream:
            content_type = stream.content_type
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    lines.append(json.loads(line[5:]))
        emit(event="sse", status=stream.status, content_type=content_type, data=lines)
        await session.aclose()
        emit(event="stopped", released=session.released)
        for _ in range(50):
            if len(events) >= 2:
                break
            await asyncio.sleep(0.1)
        emit(event="o2r", events=events)
    finally:
        await persistent.close()
        await once.close()
        await app_runner.cleanup()
    emit(event="end")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orch", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    setup_logging(args.verbose)
    try:
        asyncio.run(main(args.orch, args.secret))
    except Exception as e:  # reported as a line, the test shows it
        emit(event="error", error=f"{type(e).__name__}: {e}")
        raise
