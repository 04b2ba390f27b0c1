"""A pytrickle passthrough container for bench/runner/run.ts: `python passthrough_pytrickle.py <port>`.

A StreamServer whose FrameProcessor returns every video frame and audio frame unchanged, so the
measured rate is pytrickle's own media path (decode, tensor conversion, queues, encode).
"""
import asyncio
import sys

from pytrickle import FrameProcessor, StreamServer


class Passthrough(FrameProcessor):
    async def load_model(self, **kwargs):
        return None

    async def process_video_async(self, frame):
        return frame

    async def process_audio_async(self, frame):
        return [frame]

    async def update_params(self, params):
        return None


async def main():
    server = StreamServer(frame_processor=Passthrough(), port=int(sys.argv[1]), host="127.0.0.1")
    await server.run_forever()


asyncio.run(main())
