"""A rewrite cut off by its token limit (`finish_reason: length`): what Accept may write.

The model rewrites a cell top to bottom, so what it did not reach is the original's tail:
kept as it was, never proposed as deleted. The frontend does the same when the user stops
a stream (labextension/src/review/stopKeep.ts); here the server's `done` text is made
safe for every client (the review, the kernel's widget) when the limit cut it.
"""

from __future__ import annotations

import difflib


def keep_unreached(partial: str, original: str) -> str:
    """The generated lines (less the last, possibly cut mid-way), then the original lines
    the generation had not reached. Generated lines after the last one matching an original
    line replace as many original lines; nothing generated: the original, unchanged. Keeps
    the original's trailing newline."""
    newline = original.endswith("\n")
    orig = (original[:-1] if newline else original).split("\n")
    body = partial.rstrip("\n")
    gen = body.split("\n")[:-1] if body else []
    if not gen:
        return original
    blocks = [b for b in difflib.SequenceMatcher(a=orig, b=gen, autojunk=False).get_matching_blocks() if b.size]
    if blocks:
        last = blocks[-1]
        i, j = last.a + last.size - 1, last.b + last.size - 1
        reached = i + 1 + (len(gen) - 1 - j)
    else:
        reached = len(gen)
    return "\n".join([*gen, *orig[min(reached, len(orig)) :]]) + ("\n" if newline else "")
