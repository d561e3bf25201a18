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
"""

from __future__ import annotations

import asyncio
import functools
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
