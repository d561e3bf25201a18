"""Load: simulated users typing against the real server with the tiny model.

Each keystroke supersedes that user's previous completion (the client drops the stream
and posts `cancel`, as the labextension does). Measures latency of the completions that
were allowed to finish, errors, how many superseded requests the server actually
cancelled instead of running to the end, and the server's memory growth.

    python -m benchmarks load --json [--users 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CELL = "import pandas as pd\ndf = pd.read_csv('sales.csv')\ntotal = df.groupby('region')['revenue'].sum()\n"


async def _user(uid: int, client: Any, base: str, headers: dict[str, str], until: float, out: dict[str, Any]) -> None:
    rng = random.Random(uid)
    typed = ""
    current: asyncio.Task[None] | None = None
    current_id = ""
    n = 0

    async def one(rid: str, prefix: str) -> None:
        t0 = time.perf_counter()
        body = {
            "request_id": rid,
            "prefix": prefix,
            "suffix": "",
            "cells": [{"cell_type": "code", "source": CELL}, {"cell_type": "code", "source": ""}],
            "cell_index": 1,
        }
        try:
            async with client.stream("POST", f"{base}jupyter-assist/complete", json=body, headers=headers) as r:
                if r.status_code != 200:
                    out["errors"] += 1
                    return
                async for line in r.aiter_lines():
                    if line.strip():
                        ev = json.loads(line)
                        if ev["type"] == "error":
                            out["errors"] += 1
                        elif ev["type"] == "done" and ev["finish_reason"] != "cancelled":
                            out["latencies"].append(time.perf_counter() - t0)
        except asyncio.CancelledError:
            raise
        except Exception:
            out["errors"] += 1

    while time.perf_counter() < until:
        await asyncio.sleep(rng.uniform(0.08, 0.25))  # a keystroke
        typed += rng.choice("abcdefghij(.)_ ")
        if current is not None and not current.done():
            current.cancel()  # drop the stream: the server sees the connection close
            out["superseded"] += 1
            out["superseded_at"][current_id] = time.time()
            await client.post(f"{base}jupyter-assist/cancel", json={"request_id": current_id}, headers=headers)
        n += 1
        current_id = f"u{uid}-{n}"
        out["requests"] += 1
        current = asyncio.create_task(one(current_id, "result = " + typed[-40:]))
    if current is not None:
        await asyncio.gather(current, return_exceptions=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks load")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args(argv)

    import httpx
    import psutil

    from jupyter_assist.testing.processes import free_port, stop
    from jupyter_assist.testing.tiny_model import build_tiny_model

    tmp = Path(tempfile.mkdtemp(prefix="assist-load-"))
    model = build_tiny_model(tmp / "tiny")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp / "rt"), "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp}",
        "--ServerApp.jpserver_extensions=jupyter_assist=True",
        f"--AssistExtension.model={model}",
        "--AssistExtension.torch_threads=1",
        "--AssistExtension.completion_max_tokens=16",
        "--AssistExtension.history_size=100000",
    ]  # every request's end time, for the stale accounting
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "server.log", "wb")  # noqa: SIM115  (the server writes to it until it is stopped)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                st = httpx.get(f"{base}jupyter-assist/status", headers=headers, timeout=2).json()
                if st["state"] == "ready":
                    break
                if st["state"] == "error":
                    raise SystemExit(st["error"])
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("server did not start: " + (tmp / "server.log").read_text()[-2000:])
            time.sleep(0.3)
        server = psutil.Process(proc.pid)
        out: dict[str, Any] = {"requests": 0, "errors": 0, "superseded": 0, "superseded_at": {}, "latencies": []}
        before = httpx.get(f"{base}jupyter-assist/status", headers=headers).json()
        rss: dict[str, float] = {}

        async def run() -> None:
            limits = httpx.Limits(max_connections=args.users * 4)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                until = time.perf_counter() + args.seconds

                async def sample() -> None:
                    await asyncio.sleep(min(10, args.seconds / 6))
                    rss["start"] = server.memory_info().rss

                sampler = asyncio.create_task(sample())
                await asyncio.gather(*(_user(u, client, base, headers, until, out) for u in range(args.users)))
                await sampler
            await asyncio.sleep(1.0)  # let the server finish bookkeeping of the last cancels
            rss["end"] = server.memory_info().rss

        asyncio.run(run())
        after = httpx.get(f"{base}jupyter-assist/status", headers=headers).json()
        history = httpx.get(f"{base}jupyter-assist/history", headers=headers).json()["requests"]
        # A request whose generation had already ended when the next keystroke came was not
        # superseded while running: its answer was on the wire, the (loaded) client had not
        # read it yet. Only requests still running at that moment can be stale work.
        ended_before = sum(
            1
            for h in history
            if h["request_id"] in out["superseded_at"]
            and h["finish_reason"] != "cancelled"
            and h["finished_at"] <= out["superseded_at"][h["request_id"]]
        )
        lat = sorted(out["latencies"])
        cancelled = after["cancelled"] - before["cancelled"]
        # Generations that ran to their end but whose client had moved on: the waste.
        stale_run = max(after["served"] - before["served"] - len(lat), 0)
        result = {
            "users": args.users,
            "seconds": args.seconds,
            "requests": out["requests"],
            "completed": len(lat),
            "errors": out["errors"],
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))] * 1000, 1) if lat else None,
            "superseded": out["superseded"],
            "server_cancelled": cancelled,
            "stale_run_to_end": stale_run,
            "superseded_after_end": ended_before,
            "stale_cancelled_ratio_raw": round(1 - stale_run / out["superseded"], 3) if out["superseded"] else None,
            "stale_cancelled_ratio": (
                round(1 - (stale_run - ended_before) / (out["superseded"] - ended_before), 3) if out["superseded"] > ended_before else None
            ),
            "rss_growth_mb": round((rss["end"] - rss["start"]) / 1e6, 1),
        }
        print(json.dumps(result, indent=None if args.json else 2))
    finally:
        stop(proc)
    return 0
