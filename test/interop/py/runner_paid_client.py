"""A PyPI livepeer-gateway 1.0.0 live runner client calling a PRICED runner on the devnet
(test/interop/live-runner-paid.test.ts), two ways:

  runner_paid_client.py direct --orch https://HOST:PORT --app APP --signer URL --token T --seconds N

    `reserve_session(orchestrators=…, app=…, signer_url=…)` against the orchestrator: the 402
    challenge is paid through the remote signer (`/generate-live-payment`), the session's payment
    loop tops it up every 3 s at the challenge's `payment_url`; `call_runner` on the app URL; N
    seconds of the session; `aclose()` (stop); then `call_runner(runner=…, signer_url=…)` on the
    fixed-priced single-shot runner `{org}/once` (paid once, type `fixed`).

  runner_paid_client.py gateway --gw http://HOST:PORT --app APP --seconds N

    The client holds no key and no signer: `call_runner` POSTs `{gw}/apps/{app}/session` (the
    gateway pays the runner through its own remote signer), `call_runner` on the gateway's app URL
    (JSON, then SSE with stream=True), N seconds, then `stop_runner_session`; then a call of the
    fixed-priced single-shot runner `{org}/once` through the gateway (which pays it).

Output: JSON lines on stdout (test/interop/peers.ts); logs on stderr.
"""

import argparse
import asyncio
import json
import urllib.parse

from common import emit, setup_logging


async def direct(orch: str, app: str, signer: str, token: str, seconds: float) -> None:
    from livepeer_gateway.live_runner import call_runner
    from livepeer_gateway.selection import reserve_session

    session = await reserve_session(
        orchestrators=orch,
        app=app,
        signer_url=signer,
        signer_headers={"Authorization": f"Bearer {token}"},
    )
    emit(event="reserved", session_id=session.session_id, app_url=session.app_url)
    called = await call_runner(f"{session.app_url}/echo", payload={"q": "paid"})
    emit(event="called", data=called.data)
    await asyncio.sleep(seconds)
    again = await call_runner(f"{session.app_url}/echo", payload={"q": "later"})
    emit(event="called_later", data=again.data, released=session.released)
    await session.aclose()
    emit(event="stopped")
    # A fixed-priced single-shot runner, paid per call through the signer (type "fixed").
    from livepeer_gateway.discovery import discover_orchestrator_runners
    from livepeer_gateway.selection import _runner_candidates_from_discovery

    entries = await discover_orchestrator_runners(orch, app=f"{app.split('/')[0]}/once")
    once = _runner_candidates_from_discovery(entries)[0]
    single = await call_runner(
        f"{once.url}/echo",
        runner=once,
        payload={"q": "once"},
        signer_url=signer,
        signer_headers={"Authorization": f"Bearer {token}"},
    )
    emit(event="single_shot", data=single.data, session_id=single.session_id)


async def gateway(gw: str, app: str, seconds: float) -> None:
    from livepeer_gateway.live_runner import LiveRunnerSession, call_runner, stop_runner_session

    reserved = await call_runner(f"{gw}/apps/{urllib.parse.quote(app, safe='')}/session", payload={})
    data = reserved.data
    emit(event="reserved", session_id=data["session_id"], app_url=data["app_url"], control_url=data["control_url"])
    session = LiveRunnerSession(
        session_id=data["session_id"],
        app_url=data["app_url"],
        runner_url=f"{gw}/apps/{app}/session",
        control_url=data["control_url"],
    )
    called = await call_runner(f"{session.app_url}/echo", payload={"q": "through the gateway"})
    emit(event="called", data=called.data)
    async with await call_runner(f"{session.app_url}/sse", method="GET", stream=True) as stream:
        events = []
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[len("data:"):].strip()))
        emit(event="sse", status=stream.status, content_type=stream.content_type, data=events)
    await asyncio.sleep(seconds)
    again = await call_runner(f"{session.app_url}/echo", payload={"q": "later"})
    emit(event="called_later", data=again.data)
    await stop_runner_session(session)
    emit(event="stopped")
    once = f"{gw}/apps/{urllib.parse.quote(app.split('/')[0] + '/once', safe='')}/app/echo"
    single = await call_runner(once, payload={"q": "once through the gateway"})
    emit(event="single_shot", data=single.data)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["direct", "gateway"])
    p.add_argument("--orch", default="")
    p.add_argument("--gw", default="")
    p.add_argument("--app", required=True)
    p.add_argument("--signer", default="")
    p.add_argument("--token", default="")
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    setup_logging(a.verbose)
    if a.mode == "direct":
        asyncio.run(direct(a.orch, a.app, a.signer, a.token, a.seconds))
    else:
        asyncio.run(gateway(a.gw, a.app, a.seconds))
    emit(event="end")


if __name__ == "__main__":
    main()
