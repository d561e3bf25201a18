"""Remote backend figure: chat requests one after another vs at once against a real
`transformers serve --continuous-batching` on 127.0.0.1 (started here), through the engine
(remote backend, concurrent streams). The ratio is what a batching server gains us.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

QUESTIONS = (
    "Write a Python function that reverses a string, and explain it.",
    "How do I read a CSV file with pandas and show its first rows?",
    "Explain list comprehensions in Python with an example.",
    "Write a function that checks whether a number is prime.",
)


def _serve(folder: str, threads: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from jupyter_assist.testing.processes import free_port

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "HF_HOME": str(log.parent / "hf")}
    cli = Path(sys.executable).with_name("transformers")
    with open(log, "wb") as out:
        # A bounded paged KV cache (256 blocks of 32 tokens): sized by default from free memory,
        # it took 10 GB on a 24 GB box and was killed.
        proc = subprocess.Popen(
            [
                str(cli),
                "serve",
                "--continuous-batching",
                "--cb-block-size",
                "32",
                "--cb-num-blocks",
                "256",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                folder,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"transformers serve did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.5)


def remote_concurrent_speedup(model: str, threads: int, n: int = 4, max_tokens: int = 64, reps: int = 2) -> dict[str, Any]:
    """`n` chat requests of `max_tokens` one after another over at once (wall time; each
    arm's fastest of `reps` rounds, taking turns)."""
    from jupyter_assist.engine import Engine, GenerationParams, LoadOptions, RemoteOptions, Request
    from jupyter_assist.engine.models import default_cache_dir, materialize, resolve
    from jupyter_assist.testing.processes import stop

    folder = materialize(resolve(model), default_cache_dir())
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _serve(folder, threads, Path(tmp) / "serve.log")
        engine = Engine(folder, LoadOptions(), Path(tmp), RemoteOptions(url + "/v1", tokenizer=folder, max_concurrency=n))
        try:
            engine.start()
            while engine.status.state == "loading":
                time.sleep(0.1)
            if engine.status.state != "ready":
                raise RuntimeError(f"remote engine not ready: {engine.status.error}")
            assert engine.backend is not None
            prompts = [engine.backend.chat_prompt([{"role": "user", "content": q}]) for q in QUESTIONS[:n]]

            async def one(i: int, tag: str) -> int:
                tokens = 0
                async for ev in engine.stream(Request(f"{tag}{i}", prompts[i % len(prompts)], GenerationParams(max_tokens=max_tokens))):
                    if ev.kind == "error":
                        raise RuntimeError(ev.message)
                    if ev.kind == "done":
                        tokens = ev.completion_tokens
                return tokens

            async def sequential() -> list[int]:
                return [await one(i, "s") for i in range(n)]

            async def together() -> list[int]:
                return list(await asyncio.gather(*(one(i, "c") for i in range(n))))

            asyncio.run(one(0, "warm"))  # the server builds its batching manager on the first request
            best: dict[str, float] = {}
            tokens: dict[str, list[int]] = {}
            for _ in range(reps):
                for name, arm in (("sequential", sequential), ("concurrent", together)):
                    t0 = time.perf_counter()
                    tokens[name] = asyncio.run(arm())
                    best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
        finally:
            engine.shutdown()
            stop(proc)
    return {
        "remote_concurrent_speedup": round(best["sequential"] / best["concurrent"], 2),
        "remote_sequential_s": round(best["sequential"], 2),
        "remote_concurrent_s": round(best["concurrent"], 2),
        "remote_completion_tokens": tokens["concurrent"],
        "remote_requests": n,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(remote_concurrent_speedup(sys.argv[1] if len(sys.argv) > 1 else "embedded", 2)))
