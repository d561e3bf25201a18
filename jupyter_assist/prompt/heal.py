"""Token healing, prompt side: where the prompt before the cursor should end.

A cursor inside a word (`import matplotl|`) or after a lone space (`f(w, |`) ends the
prompt on a token the model rarely saw there: in training `matplotlib` went on as
`.pyplot` inside one token sequence, and a space before a name was part of the name's
token. Healing takes the cursor line's last token back out of the prompt; the engine then
makes the answer start with that text (GenerationParams.prefix) and returns only what
follows it. Pure: the tokenizer comes in as two functions.

A cursor right after a whole name the notebook already uses (`list|`, `tf.keras|`,
`fig_extension|`) is not healed: the word is done, and a regenerated last token lets the
model stretch it into another one (`list` -> `lister`, quality benchmark, issue 16).
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Sequence

MAX_LINE = 400  # characters of the cursor's line looked at (its last token lies in them)
_WORD_END = re.compile(r"[^\W\d]\w*$")
_BUILTIN = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)


def removable(
    line: str,
    encode: Callable[[str], Sequence[int]],
    text_of: Callable[[int], str],
    known: Callable[[str], bool] = lambda word: False,
) -> str:
    """The text to take back from the end of `line` (the cursor's line up to the cursor):
    its last token's text, when the tokens' texts spell the line exactly and the line does
    not end in a word that `known` says is whole; else ''."""
    tail = line[-MAX_LINE:]
    if not tail:
        return ""
    ids = list(encode(tail))
    texts = [text_of(i) for i in ids]
    if not ids or "".join(texts) != tail:
        return ""
    word = last_word(tail)
    if word and known(word):
        return ""
    return texts[-1]


def last_word(line: str) -> str:
    """The identifier `line` ends with ('' if it ends otherwise)."""
    m = _WORD_END.search(line)
    return m.group() if m else ""


def known_in(context: str) -> Callable[[str], bool]:
    """`known` for `removable`: a Python builtin or keyword, or a whole word of `context`
    (the prompt without the cursor's word)."""

    def known(word: str) -> bool:
        return word in _BUILTIN or re.search(rf"(?<!\w){re.escape(word)}(?!\w)", context) is not None

    return known


def healed(text: str, cursor: int, removed: str) -> str:
    """`text` with `removed` (which ends at `cursor`) taken out."""
    if not removed or text[:cursor][-len(removed) :] != removed:
        raise ValueError("the removed text must end at the cursor")
    return text[: cursor - len(removed)] + text[cursor:]
