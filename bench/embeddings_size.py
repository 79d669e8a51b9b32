"""How large an ``embeddings_list_input`` job can be: result size and worker memory.

Runs the real operation (batching, decoding, output) in a child process per size,
against a local wire-format server in this process, and prints for each size the
result record's JSON size (what goes into one Redis value) and the child's peak RSS.
Not a test: a measurement, for the README. Usage:

    .venv/bin/python bench/embeddings_size.py [CHUNKS ...] [--dims N] [--format float|base64]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def answer(dims: int, encoding: str) -> Any:
    """A wire-server handler answering any embeddings request with vectors of ``dims``."""
    from support import Reply

    rng = random.Random(7)
    # A pool of realistic vectors reused across inputs keeps the server fast.
    pool = [[round(rng.gauss(0, 0.03), 10) for _ in range(dims)] for _ in range(16)]
    packed = [base64.b64encode(struct.pack(f"<{dims}f", *v)).decode() for v in pool]

    def handle(request: Any) -> Any:
        inputs = request.json["input"]
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": packed[i % 16] if encoding == "base64" else pool[i % 16],
            }
            for i in range(len(inputs))
        ]
        usage = {"prompt_tokens": len(inputs) * 10, "total_tokens": len(inputs) * 10}
        body = {"object": "list", "model": "text-embedding-3-small", "data": data, "usage": usage}
        return Reply(body=json.dumps(body).encode())

    return handle


def child(url: str, chunks: int, encoding: str) -> None:
    """Run one job in this process; print its figures as JSON."""
    from support import make_configuration

    from worker.functions import FunctionRegistry
    from worker.operations import OPERATIONS, JobContext
    from worker.providers import ProviderClient, provider_for
    from worker.settings import Settings
    from worker.transport import HttpClient

    http = HttpClient(timeout_s=300, connect_timeout_s=5)
    client = ProviderClient(provider_for(make_configuration("openai", url)), http)
    ctx = JobContext("bench", client, FunctionRegistry(), Settings(), http)
    operation = OPERATIONS["embeddings_list_input"]
    text = "A paragraph of a document, about two hundred characters long. " * 3
    payload = {
        "configuration": "test",
        "model": "text-embedding-3-small",
        "encoding_format": encoding,
        "chunks": [{"input": text, "key": f"doc-1#{i}"} for i in range(chunks)],
    }
    started = time.monotonic()
    data = operation.schema().load(payload)
    outcome = operation.run(ctx, data)
    record = {"job_id": "bench", "status": "succeeded", "output": outcome.output}
    stored = json.dumps(record)  # what RedisResultStore.put writes
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "chunks": chunks,
                "result_mb": round(len(stored) / 1e6, 1),
                "peak_rss_mb": round(peak_kib / 1024),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chunks", nargs="*", type=int, default=[1000, 5000, 20000])
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--format", choices=["float", "base64"], default="float")
    parser.add_argument("--child", nargs=2, metavar=("URL", "CHUNKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.format)
        return

    from support import WireServer

    server = WireServer()
    server.handler = answer(args.dims, args.format)
    print(f"dims={args.dims} encoding_format={args.format}")
    try:
        for chunks in args.chunks:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--format",
                    args.format,
                    "--child",
                    server.url,
                    str(chunks),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = done.stdout.strip().splitlines()
            figures = lines[-1] if lines else ""
            error = done.stderr.strip().splitlines()[-1:] if done.returncode else []
            print(figures or f"chunks={chunks}: failed: {' '.join(error)}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
