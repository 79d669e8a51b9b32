"""Many slow calls in flight from one process, without a queue: the in-flight baseline.

Run in a process of its own so that its peak resident set (``VmHWM``) is the calls'
alone. ``threads`` mode is bare ``requests`` from N threads sharing one pooled session
(what the worker's threads do without the queue); ``httpx2`` and ``aiohttp`` modes are
N coroutines on one event loop sharing one async client (``httpx2`` is the one the
``openai`` package uses; ``aiohttp`` is not a dependency and is skipped when absent):
the cost of the asyncio alternative. Prints one JSON line:

    python bench/bare_in_flight.py URL --mode threads|httpx2|aiohttp --concurrency N --calls M
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

BODY = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Say hello."},
    ],
}
HEADERS = {"Authorization": "Bearer sk-bench"}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def with_threads(url: str, concurrency: int, calls: int) -> int:
    """``calls`` POSTs from ``concurrency`` threads; returns how many failed."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))
    counter = iter(range(calls))
    lock = threading.Lock()
    failed = 0

    def loop() -> None:
        nonlocal failed
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            try:
                response = session.post(url, json=BODY, headers=HEADERS, timeout=120)
                response.raise_for_status()
                response.json()
            except Exception:
                with lock:
                    failed += 1

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed


def with_httpx2(url: str, concurrency: int, calls: int) -> int:
    """``calls`` POSTs from ``concurrency`` coroutines on one loop; returns failures."""
    import asyncio

    import httpx2

    async def main() -> int:
        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        remaining = calls
        failed = 0
        async with httpx2.AsyncClient(limits=limits, timeout=120) as client:

            async def loop() -> None:
                nonlocal remaining, failed
                while remaining > 0:
                    remaining -= 1
                    try:
                        response = await client.post(url, json=BODY, headers=HEADERS)
                        response.raise_for_status()
                        response.json()
                    except Exception:
                        failed += 1

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        return failed

    return asyncio.run(main())


def with_aiohttp(url: str, concurrency: int, calls: int) -> int:
    """As ``with_httpx2``, with ``aiohttp`` (if installed; not a project dependency)."""
    import asyncio

    import aiohttp

    async def main() -> int:
        remaining = calls
        failed = 0
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def loop() -> None:
                nonlocal remaining, failed
                while remaining > 0:
                    remaining -= 1
                    try:
                        async with session.post(url, json=BODY, headers=HEADERS) as response:
                            response.raise_for_status()
                            await response.json()
                    except Exception:
                        failed += 1

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        return failed

    return asyncio.run(main())


MODES = {"threads": with_threads, "httpx2": with_httpx2, "aiohttp": with_aiohttp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the chat completions URL of the provider stand-in")
    parser.add_argument("--mode", choices=sorted(MODES), default="threads")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--stack-kib", type=int, default=0, help="thread stack size; 0: default")
    args = parser.parse_args()
    if args.stack_kib:
        threading.stack_size(args.stack_kib * 1024)
    run = MODES[args.mode]
    started = time.perf_counter()
    failed = run(args.url, args.concurrency, args.calls)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures: dict[str, Any] = {
        "mode": args.mode,
        "concurrency": args.concurrency,
        "calls": args.calls,
        "failed": failed,
        "seconds": round(elapsed, 3),
        "per_s": round(args.calls / elapsed, 1),
        "cpu_ms_per_call": round((usage.ru_utime + usage.ru_stime) * 1000 / args.calls, 3),
        "peak_rss_mb": peak_rss_mb(),
    }
    json.dump(figures, sys.stdout)
    print()


if __name__ == "__main__":
    main()
