"""Priorities of notebook context: near the cursor first, recently run cells raised.

Coarse on purpose (one level per cell, a few per cell's parts): fine-grained priorities far
from the cursor cost render time and buy nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cells import Cell

NEAR = 1000.0  # a cell next to the current one
STEP = 4.0  # lost per cell of distance
RECENCY = (40.0, 30.0, 20.0, 10.0)  # bonus of the 1st, 2nd... most recently executed cells
MARKDOWN = -2.0  # prose goes before code at the same distance
OUTPUTS = -12.0  # a cell's output goes about three cells before its source
TRIMMED = 2.0  # a long cell's head/tail outlives its full text a little
IMPORTS = 200.0  # a dropped cell's imports stay as long as a cell 50 cells nearer
CURRENT = NEAR + 400.0  # the current cell, where the context lists it: above any import
VARIABLES = NEAR + 20.0
ERROR = NEAR + 50.0


def recency_ranks(cells: Sequence[Cell]) -> dict[int, int]:
    """Cell index -> 0 for the most recently executed cell, 1 for the one before..."""
    ran = sorted((c for c in cells if c.execution_count is not None), key=lambda c: -(c.execution_count or 0))
    return {c.index: rank for rank, c in enumerate(ran[: len(RECENCY)])}


def cell_priority(distance: int, recency_rank: int | None) -> float:
    bonus = RECENCY[recency_rank] if recency_rank is not None and recency_rank < len(RECENCY) else 0.0
    return NEAR - STEP * max(distance - 1, 0) + bonus


def imports_priority(distance: int) -> float:
    """By distance alone (no recency bonus), so a nearer cell's imports always outlive a
    farther one's: context.py relies on that to list each import line once."""
    return cell_priority(distance, None) + IMPORTS
