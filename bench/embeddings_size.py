"""How large an ``embeddings_list_input`` job can be: worker memory, stored size, time.

Runs the real operation (batching, decoding, output) in a child process per size,
against a local wire-format server in this process, and stores the result through the
real ``RedisResultStore`` (``REDIS_URL``, or an embedded server in a temporary
directory), as a worker does. Prints for each size: the child's peak RSS, the bytes
stored in Redis (record plus output parts), the wall time of the job including the
write, and the number of HTTP requests. Not a test: a measurement, for the README.

    .venv/bin/python bench/embeddings_size.py [CHUNKS ...] [--dims N] [--format float|base64]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def answer(dims: int, encoding: str) -> Any:
    """A wire-server handler answering any embeddings request with vectors of ``dims``."""
    from support import Reply

    rng = random.Random(7)
    # A pool of float32 vectors (printed as doubles, as the API does) reused across
    # inputs keeps the server fast.
    pool = [
        struct.unpack(
            f"<{dims}f", struct.pack(f"<{dims}f", *(rng.gauss(0, 0.03) for _ in range(dims)))
        )
        for _ in range(16)
    ]
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


def child(url: str, redis_url: str, chunks: int, dims: int, encoding: str) -> None:
    """Run one job in this process and store its record; print its figures as JSON."""
    import redis
    from support import make_configuration

    from worker.functions import FunctionRegistry
    from worker.keys import Keys
    from worker.operations import OPERATIONS, JobContext
    from worker.providers import ProviderClient, provider_for
    from worker.results import RedisResultStore
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
        "dimensions": dims,
        "chunks": [{"input": text, "key": f"doc-1#{i}"} for i in range(chunks)],
    }
    connection = redis.Redis.from_url(redis_url)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    store = RedisResultStore(connection, Keys(namespace), ttl_s=600)
    started = time.monotonic()
    try:
        outcome = operation.run(ctx, operation.schema().load(payload))
    except Exception as exc:  # a refusal is a figure too
        print(json.dumps({"chunks": chunks, "refused": str(exc)}))
        return
    store.put({"job_id": "bench", "status": "succeeded", "output": outcome.output})
    seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    keys = list(connection.scan_iter(match=f"{namespace}:*", count=1000))
    stored = sum(
        connection.hstrlen(key, "record")
        if connection.type(key) == b"hash"
        else connection.strlen(key)
        for key in keys
    )
    connection.delete(*keys)
    print(
        json.dumps(
            {
                "chunks": chunks,
                "stored_mb": round(stored / 1e6, 1),
                "redis_keys": len(keys),
                "peak_rss_mb": round(peak_kib / 1024),
                "seconds": round(seconds, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chunks", nargs="*", type=int, default=[5000, 20000, 50000])
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--format", choices=["float", "base64"], default="float")
    parser.add_argument("--child", nargs=3, metavar=("URL", "REDIS", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, redis_url, chunks = args.child
        child(url, redis_url, int(chunks), args.dims, args.format)
        return

    from support import WireServer

    from worker import embedded_redis

    data_dir = Path(tempfile.mkdtemp(prefix="owbench-"))
    redis_url = os.environ.get("REDIS_URL") or embedded_redis.ensure_running(data_dir)
    server = WireServer()
    server.handler = answer(args.dims, args.format)
    print(f"dims={args.dims} encoding_format={args.format}")
    try:
        for chunks in args.chunks:
            server.requests.clear()
            command = [sys.executable, __file__, "--format", args.format, "--dims"]
            command += [str(args.dims), "--child", server.url, redis_url, str(chunks)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = done.stdout.strip().splitlines()
            if done.returncode or not lines:
                error = done.stderr.strip().splitlines()[-1:]
                print(f"chunks={chunks}: failed: {' '.join(error)}")
                continue
            figures = json.loads(lines[-1])
            figures["http_requests"] = len(server.requests)
            print(json.dumps(figures))
    finally:
        server.close()
        if not os.environ.get("REDIS_URL"):
            embedded_redis.stop(data_dir)


if __name__ == "__main__":
    main()
