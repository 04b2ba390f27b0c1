"""Drives PyPI livepeer-gateway's public API with a remote signer (Tributary's, in the interop tests).

  signer_gateway.py discover --signer URL --token T
  signer_gateway.py byoc     --signer URL --token T --capability NAME --payload JSON

Output: JSON lines on stdout (see test/interop/peers.ts); logs on stderr.

- discover: `discover_orchestrators(signer_url=…)` (GET {signer}/discover-orchestrators).
- byoc: `submit_byoc_job` with no orchestrator given: discovery through the signer, the job signed by
  `/sign-byoc-job`, GetOrchestrator with the signer's `/sign-orchestrator-info` material, tickets
  from `/generate-live-payment`, then POST /process/request/<capability>.
"""

import argparse
import json
import sys

from common import emit, setup_logging


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["discover", "byoc"])
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
