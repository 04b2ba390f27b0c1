"""Drives PyPI livepeer-gateway's public API against an orchestrator (Tributary's, in the interop tests).

  orch_gateway.py info  --orch HOST:PORT
  orch_gateway.py byoc  --orch HOST:PORT --capability NAME --payload JSON
  orch_gateway.py lv2v  --orch HOST:PORT --model MODEL --in-dir DIR --out-dir DIR [--want N]

Offchain only (no signer). Output: JSON lines on stdout (see test/interop/peers.ts); logs on stderr.

- info: `get_orch_info` (gRPC GetOrchestrator over TLS with trust-on-first-use) and what the client
  needs from the answer.
- byoc: `submit_byoc_job` (POST /process/request/<capability> with the `Livepeer` header).
- lv2v: `start_lv2v` (GetOrchestrator, then POST /live-video-to-video with the offchain
  `Livepeer-Segment`), probes `GET {channel}/next` on every returned channel right after the start
  reply, one offchain `PaymentSession.send_payment()`, publishes the `*.ts` files of --in-dir in name
  order with the SDK's `TricklePublisher`, reads --want output segments with the SDK's `MediaOutput`
  (which checks their Content-Type) into --out-dir, then closes the job (control and publish channels).
"""

import argparse
import asyncio
import json
import os
import sys

from common import emit, setup_logging, sha256


def _orch_info(orch: str) -> None:
    from livepeer_gateway import CapabilityId, get_orch_info

    info = get_orch_info(orch)
    caps = info.capabilities
    lv2v = int(CapabilityId.LIVE_VIDEO_TO_VIDEO)
    models = {}
    if caps is not None and lv2v in caps.constraints.PerCapability:
        models = {k: {"warm": v.warm, "capacity": v.capacity} for k, v in caps.constraints.PerCapability[lv2v].models.items()}
    emit(
        event="info",
        transcoder=info.transcoder,
        has_auth_token=info.HasField("auth_token"),
        auth_token_bytes=len(info.auth_token.token),
        auth_token_session=info.auth_token.session_id,
        auth_token_expiration=int(info.auth_token.expiration),
        has_ticket_params=info.HasField("ticket_params"),
        bitstring=[int(x) for x in caps.bitstring],
        lv2v_models=models,
    )


def _byoc(orch: str, capability: str, payload: dict) -> None:
    from livepeer_gateway import ByocJobRequest, submit_byoc_job

    resp = submit_byoc_job(ByocJobRequest(capability=capability, payload=payload, timeout_seconds=20), orch_url=orch)
    emit(
        event="byoc",
        status=resp.status_code,
        data=resp.data if not isinstance(resp.data, bytes) else resp.data.decode("utf-8", "replace"),
        # resp.headers is a plain dict keyed as the server spelled the names.
        content_type=next((v for k, v in resp.headers.items() if k.lower() == "content-type"), None),
        header_names=sorted(resp.headers.keys()),
        orchestrator_url=resp.orchestrator_url,
    )


async def _probe_next(url: str) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(url.rstrip("/") + "/next", ssl=False) as resp:
            body = await resp.text()
            return {"status": resp.status, "body": body[:100]}


async def _lv2v(args) -> int:
    from livepeer_gateway import StartJobRequest, TricklePublisher, start_lv2v

    files = sorted(f for f in os.listdir(args.in_dir) if f.endswith(".ts"))
    # start_lv2v is synchronous (gRPC + urllib); run it off the loop so that nothing else stalls.
    job = await asyncio.to_thread(
        start_lv2v,
        args.orch,
        StartJobRequest(model_id=args.model, params={"green": 80}, request_id="interop-req", stream_id="interop-stream"),
        start_payments=False,
    )
    emit(
        event="started",
        keys=sorted(job.raw.keys()),
        manifest_id=job.manifest_id,
        publish_url=job.publish_url,
        subscribe_url=job.subscribe_url,
        control_url=job.control_url,
        events_url=job.events_url,
    )
    # The client starts publishing and subscribing right after the reply: every channel must exist now.
    for name in ("publish_url", "subscribe_url", "control_url", "events_url"):
        url = getattr(job, name)
        emit(event="probe", channel=name, **(await _probe_next(url)))

    # Offchain payment: the SDK still POSTs {transcoder}/payment with an empty payment and SegData.
    try:
        await asyncio.to_thread(job.payment_session.send_payment)
        emit(event="payment", ok=True)
    except Exception as exc:  # noqa: BLE001 - reported, the test decides
        emit(event="payment", ok=False, error=f"{type(exc).__name__}: {exc}")

    output = job.media_output(start_seq=-1)
    os.makedirs(args.out_dir, exist_ok=True)

    async def read_output() -> None:
        got = 0
        async for segment in output.segments():
            reader = segment.make_reader()
            parts = []
            while True:
                chunk = await reader.read()
                if not chunk:
                    break
                parts.append(chunk)
            data = b"".join(parts)
            path = os.path.join(args.out_dir, f"{got:03d}.ts")
            with open(path, "wb") as fh:
                fh.write(data)
            emit(
                event="output",
                seq=segment.seq(),
                bytes=len(data),
                sha256=sha256(data),
                content_type=segment.headers().get("Content-Type"),
                path=path,
            )
            got += 1
            if got >= args.want:
                return

    reader_task = asyncio.create_task(read_output())
    pub = TricklePublisher(job.publish_url, "video/mp2t")
    try:
        for i, name in enumerate(files):
            with open(os.path.join(args.in_dir, name), "rb") as fh:
                data = fh.read()
            async with await pub.next() as writer:
                await writer.write(data)
            emit(event="published", index=i, seq=writer.seq(), bytes=len(data))
            await asyncio.sleep(args.pace)
        await asyncio.wait_for(reader_task, args.read_timeout)
        stats = output.get_stats()
        emit(event="output_stats", content_type_errors=stats.content_type_errors, segments=stats.segments_consumed)
        # A control message, so that close() has a live publisher session and DELETEs the channel.
        if job.control is not None:
            await job.control.write({"type": "interop", "green": 40})
            emit(event="control", ok=True)
    finally:
        if not reader_task.done():
            reader_task.cancel()
        await output.close()
        await pub.close()
        await job.close()
    emit(event="end", reason="closed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["info", "byoc", "lv2v"])
    parser.add_argument("--orch", required=True)
    parser.add_argument("--capability")
    parser.add_argument("--payload", default="{}")
    parser.add_argument("--model")
    parser.add_argument("--in-dir")
    parser.add_argument("--out-dir")
    parser.add_argument("--want", type=int, default=2)
    parser.add_argument("--pace", type=float, default=0.2)
    parser.add_argument("--read-timeout", type=float, default=30)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    setup_logging(args.verbose)
    try:
        if args.mode == "info":
            _orch_info(args.orch)
        elif args.mode == "byoc":
            _byoc(args.orch, args.capability, json.loads(args.payload))
        else:
            return asyncio.run(_lv2v(args))
    except Exception as exc:  # noqa: BLE001 - reported as a line, the test prints it
        emit(event="error", type=type(exc).__name__, error=str(exc))
        return 1
    emit(event="end", reason="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
