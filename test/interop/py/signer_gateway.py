"""Drives PyPI livepeer-gateway's public API with a remote signer (Tributary's, in the interop tests).

  signer_gateway.py discover --signer URL --token T
  signer_gateway.py byoc     --signer URL --token T --capability NAME --payload JSON
  signer_gateway.py lv2v     --signer URL --token T --orch HOST:PORT --model MODEL [--payments N]

Output: JSON lines on stdout (see test/interop/peers.ts); logs on stderr.

- discover: `discover_orchestrators(signer_url=…)` (GET {signer}/discover-orchestrators).
- byoc: `submit_byoc_job` with no orchestrator given: discovery through the signer, the job signed by
  `/sign-byoc-job`, GetOrchestrator with the signer's `/sign-orchestrator-info` material, tickets
  from `/generate-live-payment`, then POST /process/request/<capability>.
- lv2v: `start_lv2v` paid through the signer (GetOrchestrator with the LV2V capability, the first
  `lv2v` payment, POST /live-video-to-video), then N payment cycles of the job's `PaymentSession`
  (`send_payment`: the signer's state round-trip with the stream's manifest id, POST /payment) one
  second apart (the SDK's own loop pays per output segment; no media is sent here), then close.
"""

import argparse
import asyncio
import json
import sys
import time

from common import emit, setup_logging


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["discover", "byoc", "lv2v"])
    parser.add_argument("--orch")
    parser.add_argument("--model")
    parser.add_argument("--payments", type=int, default=3)
    parser.add_argument("--signer", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--capability")
    parser.add_argument("--payload", default="{}")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    setup_logging(args.verbose)
    headers = {"Authorization": f"Bearer {args.token}"}
    try:
        if args.mode == "discover":
            from livepeer_gateway import discover_orchestrators

            emit(event="discover", orchestrators=discover_orchestrators(signer_url=args.signer, signer_headers=headers))
        elif args.mode == "lv2v":
            from livepeer_gateway import StartJobRequest, start_lv2v

            job = start_lv2v(
                args.orch,
                StartJobRequest(model_id=args.model, params={"green": 80}),
                start_payments=False,
                signer_url=args.signer,
                signer_headers=headers,
            )
            emit(event="started", manifest_id=job.manifest_id)
            from livepeer_gateway.errors import SkipPaymentCycle

            for i in range(args.payments):
                time.sleep(1.1)
                try:
                    job.payment_session.send_payment()
                    emit(event="payment", n=i + 1)
                except SkipPaymentCycle:
                    # 482: the credit covers this cycle (the SDK's own loop skips it the same way).
                    emit(event="skipped", n=i + 1)
            asyncio.run(job.close())
        else:
            from livepeer_gateway import ByocJobRequest, submit_byoc_job

            resp = submit_byoc_job(
                ByocJobRequest(capability=args.capability, payload=json.loads(args.payload), timeout_seconds=20),
                signer_url=args.signer,
                signer_headers=headers,
            )
            emit(
                event="byoc",
                status=resp.status_code,
                data=resp.data if not isinstance(resp.data, bytes) else resp.data.decode("utf-8", "replace"),
                orchestrator_url=resp.orchestrator_url,
            )
    except Exception as exc:  # noqa: BLE001 - reported as a line, the test prints it
        emit(event="error", type=type(exc).__name__, error=str(exc))
        return 1
    emit(event="end", reason="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
