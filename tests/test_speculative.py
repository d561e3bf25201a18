"""Pure pieces of speculative edits: re-aligning with the draft, prompt lookup over the
text so far."""

import random

from jupyter_assist.engine.speculative import DraftCursor, NgramLookup


def test_off_the_draft_the_cursor_realigns_ahead_first_then_anywhere() -> None:
    draft = [1, 2, 3, 4, 9, 9, 1, 2, 3, 4, 7, 8]
    cur = DraftCursor(draft, max_chunk=4)
    cur.observe(5, [5])  # off the draft
    assert not cur.aligned and cur.chunk() == []
    cur.pos = 5  # it had copied past the first [1, 2, 3, 4]
    cur.observe(4, [0, 1, 2, 3, 4])
    assert cur.aligned and cur.pos == 10 and cur.chunk() == [7, 8]  # the match ahead
    cur = DraftCursor(draft, max_chunk=4)
    cur.pos, cur.aligned = 11, False
    cur.observe(4, [1, 2, 3, 4])
    assert cur.pos == 4 and cur.chunk() == [9, 9, 1, 2]  # none ahead: the first one


def test_realigning_picks_what_scanning_the_draft_picks() -> None:
    # The scan it replaced: the first match at or after pos - n, else the first anywhere.
    def scanned(draft: list[int], pos: int, tail: list[int], n: int) -> int | None:
        for start in (pos, 0):
            for i in range(max(start - n, 0), len(draft) - n + 1):
                if draft[i : i + n] == tail:
                    return i + n
        return None

    rng = random.Random(0)
    for _ in range(2000):
        draft = [rng.randrange(3) for _ in range(rng.randint(0, 40))]
        out = [rng.randrange(3) for _ in range(rng.randint(1, 8))]
        cur = DraftCursor(draft)
        cur.pos, cur.aligned = rng.randint(0, len(draft)), False
        j = cur.pos + rng.randint(-6, 2)
        if rng.random() < 0.5 and 0 <= j <= len(draft) - 4:  # a tail from near pos
            out += draft[j : j + 4]
        want = scanned(draft, cur.pos, out[-4:], 4) if len(out) >= 4 else None
        before = cur.pos
        cur.observe(out[-1], out)
        assert (cur.pos if cur.aligned else None) == want, (draft, out, before)


def test_lookup_proposes_what_followed_the_earlier_occurrence() -> None:
    look = NgramLookup([1, 2, 3, 9, 8, 1, 2, 3], size=4)
    assert look.propose() == [9, 8, 1, 2]


def test_lookup_never_matches_its_own_tail() -> None:
    assert NgramLookup([5, 6]).propose() == []
    assert NgramLookup([5, 6, 7, 8]).propose() == []


def test_lookup_prefers_the_longest_recurring_tail() -> None:
    # [3, 1, 2] recurs at the start (then 7); [1, 2] recurs more recently (then 8).
    look = NgramLookup([3, 1, 2, 7, 0, 1, 2, 8, 3, 1, 2], size=2)
    assert look.propose() == [7, 0]
    assert NgramLookup([4, 1, 2, 7, 0, 1, 2, 8, 3, 1, 2], size=2).propose() == [8, 3]


def test_lookup_follows_the_growing_output() -> None:
    look = NgramLookup([10, 11, 12], size=3)
    assert look.propose() == []
    look.extend([13, 10, 11])
    assert look.propose() == [12, 13, 10]
    look.extend([99])
    assert look.propose() == []
