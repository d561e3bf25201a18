"""Request work that grows with its input (parsing a body, building a prompt, turning an
answer into proposals or hunks) runs here, off the event loop: on the loop it would hold
every other route of the Jupyter server (a next edit of a 4,000-line cell held it for
tens of seconds).

Thread safety of what that work shares, the reason the pool is small and sized as is:
- prompt/renderer.RenderCache (the isolate cache, DEFAULT_CACHE) takes a lock.
- functools.lru_cache (token counts, renames' token streams) is thread-safe; two threads
  may compute the same entry once each, which only costs time.
- the backend's tokenizer (HF fast tokenizer, tiktoken) encodes concurrently, also with
  the engine's worker thread, as before this pool: the Rust tokenizer is shared read-only
  (no request sets truncation or padding, the one thing that mutates it).
- the engine is touched only for `require_ready` (reads its status); queueing and
  cancelling stay on the loop.

Off the loop is not enough by itself: the pool's threads share the GIL with the loop. Each
time the loop waits on a socket it lets the GIL go, and a busy worker keeps it until the
interpreter's switch interval (5 ms by default) asks it back; a status request waits on a
socket ~20 times, so it took 0.15-0.24 s behind a long next edit. `share_the_gil` shortens
the interval (1 ms: 0.06-0.07 s, the rest a collection of the server's heap). No single C
call of this work may hold the GIL long either (renames.py parses long cells in pieces).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# A few threads: a long next edit must not keep a completion's prompt from being built
# (they share the GIL, so more threads would not be faster, only later to start).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jupyter-assist-work")


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on the worker pool; its exceptions are raised here."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))


def share_the_gil(interval_s: float) -> None:
    """Let the event loop take the GIL back from busy workers within `interval_s`: only
    ever lowers the process's switch interval (0: leave it as is)."""
    if 0 < interval_s < sys.getswitchinterval():
        sys.setswitchinterval(interval_s)
