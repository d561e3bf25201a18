"""An empty cursor line asks for a line: GenerationParams.nonblank makes the answer's first
token (past any healed prefix) put text on the line, where greedy would end the answer or
break the line at once (an empty answer shows no ghost text).

The tiny model's real byte-level BPE tokenizer, in fp32 on the CPU: greedy is reproducible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_assist.engine import Engine, GenerationParams, Request, constrain
from jupyter_assist.notebook.context import OUT_MARK
from jupyter_assist.tasks import TaskSettings, complete
from jupyter_assist.wire import CompleteRequest

from .conftest import running_engine

PROMPTS = ["import os\n\ndef walk(path):\n    for root, dirs, files in os.walk(path):\n", "x = 1\n\n\n\n", "\n\n\n", "# a\n#\n#\n#\n"]


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tiny_model_dir, tmp_path_factory.mktemp("cache")) as e:
        yield e


async def _text(engine: Engine, req: Request) -> str:
    out = ""
    async for ev in engine.stream(req):
        assert ev.kind != "error", ev.message
        if ev.kind == "done":
            out = ev.text
    return out


def _answer(engine: Engine, prompt: str, nonblank: bool, prefix: str = "", avoid: tuple[str, ...] = ()) -> str:
    params = GenerationParams(max_tokens=8, stop=("\n",), loop_guard=False, prefix=prefix, nonblank=nonblank, avoid=avoid)
    return asyncio.run(_text(engine, Request(f"n{nonblank}{len(prompt)}{avoid}", prompt, params)))


def test_nonblank_tokens_are_exactly_those_with_text_before_a_line_break(engine: Engine) -> None:
    texts = constrain.token_texts(engine.backend.tokenizer)
    assert texts is not None
    want = {i for i, t in enumerate(texts.texts) if t and "\ufffd" not in t and t.split("\n", 1)[0].strip()}
    got = texts.nonblank()
    assert set(got) == want and len(got) == len(want)
    assert all(texts.text(i) not in ("", "\n", " ", "    ", "\n\n") for i in got)


def test_an_empty_answer_becomes_the_best_line_and_other_answers_stay(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    free = {p: _answer(engine, p, False) for p in PROMPTS}
    assert any(not a[:1].strip() for a in free.values()), free  # greedy starts some blank: the case this is for
    texts = constrain.token_texts(engine.backend.tokenizer)
    assert texts is not None
    real, forced_tokens = constrain.force_nonblank, []

    def spy(texts: constrain.TokenTexts, logits: object, pick: object, push: object, feed: object, avoid: tuple[str, ...] = ()) -> object:
        return real(texts, logits, lambda m: forced_tokens.append(pick(m)) or forced_tokens[-1], push, feed, avoid)  # type: ignore[operator]

    monkeypatch.setattr(constrain, "force_nonblank", spy)
    for prompt, answer in free.items():
        forced_tokens.clear()
        forced = _answer(engine, prompt, True)
        assert forced.strip(), (prompt, forced)
        if answer.strip() and answer[:1].strip():  # greedy's first token had text: nothing changes
            assert forced == answer
        else:  # the first token was forced, and it has text on the line
            assert len(forced_tokens) == 1 and texts.text(forced_tokens[0]).split("\n", 1)[0].strip(), (prompt, forced)


def test_the_step_takes_the_best_token_with_text() -> None:
    import torch

    texts = constrain.TokenTexts(["\n", "  ", "", "x", " y", "\n z", "  \tq\n"])
    logits = torch.tensor([9.0, 8.0, 7.0, 1.0, 2.0, 6.0, 3.0])  # greedy: the line break
    pushed: list[int] = []
    steps = constrain.force_nonblank(texts, logits, lambda m: int(m.argmax()), lambda t: pushed.append(t), lambda ids: logits[None])
    for _ in steps:
        pass
    assert pushed == [6]  # "  \tq\n": text before its line break; "\n z" has none on this line


def test_nonblank_applies_after_a_healed_prefix(engine: Engine) -> None:
    # The healed indentation comes back first; the token after it must have text.
    prompt = "def f(xs):\n"
    assert _answer(engine, prompt, True, prefix="    ").strip()


def test_the_completion_task_asks_for_a_line_only_on_an_empty_line(engine: Engine) -> None:
    model, settings = engine.backend.text, TaskSettings()

    def params(prefix: str, suffix: str) -> GenerationParams:
        return complete.build(CompleteRequest(request_id="c", prefix=prefix, suffix=suffix), model, settings).request.params

    assert params("def mean(xs):\n    ", "").nonblank
    assert params("x = 1\n", "\ny = 2").nonblank
    assert not params("x = 1\nprint", "").nonblank
    assert not params("x = 1\n", "y = 2").nonblank  # text after the cursor on its line
    # Code, not a comment: none of the marks the model copied from the context, nor prose.
    marks = (OUT_MARK, "# Out (3, 4):", "# ... (rest of cell omitted)", "# ... 12 lines omitted ...")
    avoid = params("x = 1\n", "").avoid
    assert all(m.startswith(avoid) for m in (*marks, "# The model is overfitting")) and not "x = 1".startswith(avoid)
    assert params("x = 1\nprint", "").avoid == () and params("x = 1\n#", "").avoid == ()  # `#` typed: a comment is wanted
    # The "marks" setting keeps only our marks' looks off, a user's own comment style stays.
    settings.completion.avoid = "marks"
    avoid = params("x = 1\n", "").avoid
    assert all(m.startswith(avoid) for m in marks) and not any(m.startswith(avoid) for m in ("# mean of xs", "#: a note", "x = 1"))


def test_an_avoided_start_steers_greedy_off_it_and_others_change_nothing(engine: Engine) -> None:
    steered_off = 0
    for prompt in PROMPTS:
        free = _answer(engine, prompt, True)
        assert _answer(engine, prompt, True, avoid=("\u2603 never",)) == free  # a start greedy does not take
        start = free.lstrip()[:3]
        if len(start) < 3 or "\ufffd" in start:  # a split character is no text to steer by
            continue
        steered = _answer(engine, prompt, True, avoid=(start,))
        assert steered.strip() and not steered.lstrip().startswith(start), (prompt, free, steered)
        steered_off += 1
    assert steered_off >= 2


def test_the_steering_masks_only_what_completes_the_avoided_text() -> None:
    import torch

    texts = constrain.TokenTexts(["#", " Out", ":", " x", " O", "ut", "ut:", "=1"])

    def steer(said_so_far: list[int], steps: list[list[float]]) -> str:
        pushed, rows = list(said_so_far), [torch.tensor(r, dtype=torch.float32) for r in steps]
        said = lambda: "".join(texts.text(t) for t in pushed)  # noqa: E731
        run = constrain.steer_off(
            ("# Out:",), texts, rows.pop(0), lambda m: int(m.argmax()), lambda t: pushed.append(t), lambda ids: rows.pop(0)[None], said
        )
        for _ in run:
            pass
        return said()

    # " Out" and "ut" leave the mark unfinished, so greedy takes them; ":" and "ut:" would
    # finish it, so the next best is taken instead.
    assert steer([0], [[0, 9, 8, 1, 3, 6, 5, 7], [0, 1, 9, 1, 3, 6, 5, 7], [0] * 8]) == "# Out=1"
    assert steer([0, 4], [[0, 1, 5, 1, 3, 8, 9, 7], [0, 1, 9, 1, 3, 6, 5, 7], [0] * 8]) == "# Out=1"
    assert steer([3], [[0, 9, 9, 9, 9, 9, 9, 9]]) == " x"  # not begun: no step
