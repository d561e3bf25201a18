"""Pure pieces of speculative edits: prompt lookup over the text so far."""

from jupyter_assist.engine.speculative import NgramLookup


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
