"""A pytrickle StreamServer that registers itself with an orchestrator through pytrickle's own helper.

  orch_pytrickle.py --port PORT [--max-retries N]

Registration uses `pytrickle.RegisterCapability.register()` with everything from the environment, as
a deployed container does: ORCH_URL, ORCH_SECRET, CAPABILITY_NAME, CAPABILITY_URL,
CAPABILITY_CAPACITY, CAPABILITY_PRICE_PER_UNIT, CAPABILITY_PRICE_SCALING, CAPABILITY_DESCRIPTION.

The FrameProcessor paints the blue channel of every video frame to full (a visible, trivially checked
"tint"); audio passes through. Output: {"event": "listening"}, then {"event": "registered", "ok",
"url"}; the server then runs until it is terminated.
"""

import argparse
import asyncio
import logging

from common import emit, setup_logging
from pytrickle import FrameProcessor, RegisterCapability, StreamServer


class BlueTint(FrameProcessor):
    async def load_model(self, **kwargs):
        return None

    async def process_video_async(self, frame):
        tensor = frame.tensor.clone()
        tensor[..., 2] = 1.0 if tensor.is_floating_point() and float(tensor.max()) <= 1.0 else 255
        return frame.replace_tensor(tensor)

    async def process_audio_async(self, frame):
        return [frame]

    async def update_params(self, params):
        return None


async def main(args) -> None:
    server = StreamServer(frame_processor=BlueTint(), port=args.port, host="127.0.0.1")
    await server.start_server()
    emit(event="listening", port=args.port)
    result = await RegisterCapability.register(
        logger=logging.getLogger("orch_pytrickle"), max_retries=args.max_retries, delay=args.delay
    )
    emit(event="registered", ok=bool(result), url=result.geturl() if result else None)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--verbose", action="store_true")
    cli = parser.parse_args()
    setup_logging(cli.verbose)
    try:
        asyncio.run(main(cli))
    except KeyboardInterrupt:
        pass
