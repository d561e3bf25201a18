"""Token healing: the prompt backs up to the cursor line's last whole token, the engine's
first steps regenerate it under a constraint, and the answer is what follows it.

Property-based with the tiny model's real byte-level BPE tokenizer; the engine runs the
tiny model in fp32 on the CPU, so greedy outputs are exactly reproducible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_assist.engine import Engine, GenerationParams, Request, constrain
from jupyter_assist.prompt import heal
from jupyter_assist.tasks import complete
from jupyter_assist.tasks.spec import TaskSettings
from jupyter_assist.wire import CompleteRequest

from .conftest import collect, running_engine

PROMPT = "import os\n\ndef walk(path):\n    for root, dirs, files in os.walk(path):\n"
code_text = st.text(alphabet="abcdefxyz_ ().,:=+-'\"[]0123\té", max_size=40)


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tiny_model_dir, tmp_path_factory.mktemp("cache")) as e:
        yield e


@pytest.fixture(scope="module")
def texts(engine: Engine) -> constrain.TokenTexts:
    index = constrain.token_texts(engine.backend.tokenizer)
    assert index is not None
    return index


def test_byte_level_texts_are_the_decoded_tokens(engine: Engine) -> None:
    tok = engine.backend.tokenizer
    assert constrain._byte_level_texts(tok) == constrain._decoded_texts(tok)


@settings(max_examples=150, deadline=None)
@given(rest=st.text(alphabet="abcdefiorstx_ ().:\n\té", min_size=1, max_size=12))
@example(rest="    ")
@example(rest="\n\t\t")
def test_allowed_tokens_are_exactly_the_consistent_ones(texts: constrain.TokenTexts, rest: str) -> None:
    if len(rest) > 1 and not rest.strip():  # a run of blanks: itself less its last blank, or longer
        want = {i for i, t in enumerate(texts.texts) if t and (t.startswith(rest) or t == rest[:-1])}
    else:
        want = {i for i, t in enumerate(texts.texts) if t and "\ufffd" not in t and (t.startswith(rest) or (rest.startswith(t) and t != rest))}
    got = texts.allowed(rest)
    assert len(got) == len(set(got)) and set(got) == want


def _build(engine: Engine, body: CompleteRequest, knobs: complete.CompletionSettings) -> Request:
    return complete.build(body, engine.backend.text, TaskSettings(completion=knobs)).request


def _cells(prefix: str) -> list[dict[str, Any]]:
    return [{"source": "import os\nroot = os.getcwd()"}, {"source": prefix + "\nprint(root)"}, {"source": "done = True"}]


@settings(max_examples=120, deadline=None)
@given(above=code_text, line=code_text)
def test_healing_never_changes_the_text_before_the_cursor(engine: Engine, texts: constrain.TokenTexts, above: str, line: str) -> None:
    prefix = f"{above}\n{line}"
    body = CompleteRequest(request_id="h", prefix=prefix, suffix="\nprint(root)", cells=_cells(prefix), cell_index=1)
    plain = _build(engine, body, complete.CompletionSettings(heal=False))
    healed = _build(engine, body, complete.CompletionSettings())
    removed = healed.params.prefix
    assert plain.params.prefix == ""
    ids = engine.backend.encode(line)
    if not line or "".join(texts.text(i) for i in ids) != line:  # nothing to heal, or a split character
        assert removed == "" and healed.prompt == plain.prompt
        return
    if removed == "":  # only after a whole name the notebook (or Python) knows
        assert heal.last_word(line) and healed.prompt == plain.prompt
        return
    # The removed text is the line's last token; put back, it gives the prompt unchanged.
    assert removed == texts.text(ids[-1]) and line.endswith(removed)
    cut = plain.prompt.index("<|fim_suffix|>") if "<|fim_suffix|>" in plain.prompt else len(plain.prompt)
    assert healed.prompt[: cut - len(removed)] + removed + healed.prompt[cut - len(removed) :] == plain.prompt


@pytest.mark.parametrize(
    ("line", "healed"),
    [
        ("x = lis", True),  # inside a word: healed
        ("w = f(w, ", True),  # after a lone space: healed
        ("x = list", False),  # a builtin: done, `lister` is not what the user means
        ("opt = tf.keras", False),  # a name the notebook uses
        ("save_fig(fig_id, fig_extension", False),  # used in the rest of the cell
        ("m = fig_ext", True),  # only part of that name
    ],
)
def test_a_whole_known_name_before_the_cursor_is_not_healed(engine: Engine, line: str, healed: bool) -> None:
    cells = [{"source": "import tensorflow as tf\nlayer = tf.keras.layers.Dense(1)"}, {"source": line + "\nprint(f'{fig_extension}')"}]
    body = CompleteRequest(request_id="k", prefix=line, suffix="\nprint(f'{fig_extension}')", cells=cells, cell_index=1)
    removed = _build(engine, body, complete.CompletionSettings()).params.prefix
    assert bool(removed) == healed and line.endswith(removed)
    # The old behaviour (heal_known) heals them all.
    assert _build(engine, body, complete.CompletionSettings(heal_known=True)).params.prefix


@pytest.mark.parametrize("indent", ["    ", "        ", "\t", "  "])
def test_indentation_alone_is_healed_as_one_run(engine: Engine, texts: constrain.TokenTexts, indent: str) -> None:
    import torch

    prefix = "def f(xs):\n" + indent
    body = CompleteRequest(request_id="i", prefix=prefix, suffix="", cells=[{"source": prefix}], cell_index=0)
    removed = _build(engine, body, complete.CompletionSettings()).params.prefix
    assert removed and indent.endswith(removed)
    assert _build(engine, body, complete.CompletionSettings(heal_blank=False)).params.prefix == ""
    # Byte-level BPE spells "    x" as "   " + " x": the run comes back as that split or as
    # one token that starts with it, never a blank at a time (offered so, the model took
    # that path into more blanks until the loop guard ended the answer empty).
    vocab = len(texts.texts)
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        picked: list[int] = []

        def feed(ids: list[int]) -> Any:
            return torch.randn(len(ids), vocab, generator=gen)

        for _ in constrain.force_prefix(removed, texts, feed([0])[-1], lambda x: int(x.argmax()), picked.append, feed):
            pass
        first = texts.text(picked[0])
        assert first.startswith(removed) or (len(removed) > 1 and first == removed[:-1] and len(picked) == 2), [texts.text(t) for t in picked]


@settings(max_examples=120, deadline=None)
@given(line=st.text(alphabet="abcdefxyz_ ().,:=+-'[]0123\t", min_size=1, max_size=40), seed=st.integers(0, 2**16))
def test_constrained_first_tokens_extend_the_removed_text(texts: constrain.TokenTexts, engine: Engine, line: str, seed: int) -> None:
    import torch

    removed = heal.removable(line, engine.backend.encode, texts.text)
    assert removed and line.endswith(removed)
    gen = torch.Generator().manual_seed(seed)
    vocab = len(texts.texts)
    picked: list[int] = []

    def feed(ids: list[int]) -> Any:
        return torch.randn(len(ids), vocab, generator=gen)

    steps = constrain.force_prefix(removed, texts, feed([0])[-1], lambda x: int(x.argmax()), lambda t: picked.append(t), feed)
    for _ in steps:
        pass
    rest = removed  # each step's token is consistent with what is still required
    for t in picked:
        assert rest and (texts.text(t).startswith(rest) or rest.startswith(texts.text(t)))
        rest = rest[len(texts.text(t)) :] if rest.startswith(texts.text(t)) else ""
    assert rest == "" and "".join(texts.text(t) for t in picked).startswith(removed)  # the removed text comes back first


@pytest.mark.parametrize("lookup", [False, True])
def test_constrained_decode_equals_plain_greedy_when_nothing_was_removed(engine: Engine, lookup: bool) -> None:
    import torch

    deltas, done = asyncio.run(collect(engine, Request("e", PROMPT, GenerationParams(max_tokens=24, lookup=lookup, loop_guard=False, prefix=""))))
    tok, model = engine.backend.tokenizer, engine.backend.model
    ids = torch.tensor([tok.encode(PROMPT, add_special_tokens=False)])
    ref = model.generate(ids, max_new_tokens=done["n"], do_sample=False)[0, ids.shape[1] :]  # plain greedy, transformers' own
    assert done["text"] and "".join(deltas) == done["text"] == tok.decode(ref, skip_special_tokens=True)


@pytest.mark.parametrize("lookup", [False, True])
def test_a_prefix_greedy_takes_anyway_changes_nothing_but_is_not_returned(engine: Engine, lookup: bool) -> None:
    _, free = asyncio.run(collect(engine, Request("f", PROMPT, GenerationParams(max_tokens=24, lookup=lookup, loop_guard=False))))
    text = free["text"]
    assert len(text) > 6, text
    for k in (1, 3, 6):  # within the first token, and likely across several
        deltas, done = asyncio.run(
            collect(engine, Request(f"k{k}", PROMPT, GenerationParams(max_tokens=24, lookup=lookup, loop_guard=False, prefix=text[:k])))
        )
        assert done["text"] == text[k:] and "".join(deltas) == done["text"] and done["n"] == free["n"]


def test_a_prefix_greedy_would_not_take_is_generated_first(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _, free = asyncio.run(collect(engine, Request("g", PROMPT, GenerationParams(max_tokens=8))))
    required = "zq" if not free["text"].startswith("z") else "qz"
    pushed: list[int] = []
    real = constrain.force_prefix

    def spy(required: str, texts: Any, logits: Any, pick: Any, push: Any, *rest: Any) -> Any:
        return real(required, texts, logits, pick, lambda t: pushed.append(t) or push(t), *rest)

    monkeypatch.setattr(constrain, "force_prefix", spy)
    _, done = asyncio.run(collect(engine, Request("z", PROMPT, GenerationParams(max_tokens=8, prefix=required))))
    index = constrain.token_texts(engine.backend.tokenizer)
    assert index is not None
    spelled = "".join(index.text(t) for t in pushed)
    assert spelled.startswith(required) and done["text"].startswith(spelled[len(required) :])
