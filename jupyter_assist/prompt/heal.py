"""Token healing, prompt side: where the prompt before the cursor should end.

A cursor inside a word (`import matplotlib|`) or after a lone space (`f(w, |`) ends the
prompt on a token the model rarely saw there: in training `matplotlib` went on as
`.pyplot` inside one token sequence, and a space before a name was part of the name's
token. Healing takes the cursor line's last token back out of the prompt; the engine then
makes the answer start with that text (GenerationParams.prefix) and returns only what
follows it. Pure: the tokenizer comes in as two functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MAX_LINE = 400  # characters of the cursor's line looked at (its last token lies in them)


def removable(line: str, encode: Callable[[str], Sequence[int]], text_of: Callable[[int], str]) -> str:
    """The text to take back from the end of `line` (the cursor's line up to the cursor):
    its last token's text, when the tokens' texts spell the line exactly; else ''."""
    tail = line[-MAX_LINE:]
    if not tail:
        return ""
    ids = list(encode(tail))
    texts = [text_of(i) for i in ids]
    if not ids or "".join(texts) != tail:
        return ""
    return texts[-1]


def healed(text: str, cursor: int, removed: str) -> str:
    """`text` with `removed` (which ends at `cursor`) taken out."""
    if not removed or text[:cursor][-len(removed) :] != removed:
        raise ValueError("the removed text must end at the cursor")
    return text[: cursor - len(removed)] + text[cursor:]
