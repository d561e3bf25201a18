"""The scripted test model through a real jupyter_server (pytest-jupyter): its answers come
back through the real engine, handlers and task post-processing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from jupyter_assist.tasks.edit import hunks
from jupyter_assist.testing.scripted import write_answers

from .conftest import ndjson, wait_ready
from .scripted_server import answers, jp_server_config  # noqa: F401  (fixtures)

ORIGINAL = 's = "\U0001f600 smile"\nt = "\U0001d518"'  # 😀, 𝔘: outside the BMP
WINK = 's = "\U0001f601 smile"\nt = "\U0001d519"'  # 😁, 𝔙


async def post(jp_fetch: Any, route: str, body: Any) -> list[dict[str, Any]]:
    return ndjson((await jp_fetch("jupyter-assist", route, method="POST", body=json.dumps(body))).body)


def edit_body(request_id: str, instruction: str, source: str = ORIGINAL) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "instruction": instruction,
        "source": source,
        "cells": [{"cell_type": "code", "source": source}],
        "cell_index": 0,
    }


async def test_scripted_answer_is_the_edit_done_text(jp_fetch: Any, answers: Path, tiny_model_dir: Path) -> None:
    write_answers(answers, [{"match": "make it wink", "answers": [WINK + "\n```\n"]}])
    status = await wait_ready(jp_fetch)
    assert status["state"] == "ready" and status["model"] == "scripted", status
    events = await post(jp_fetch, "edit", edit_body("w1", "make it wink"))
    deltas, done = events[:-1], events[-1]
    assert done["type"] == "done" and done["finish_reason"] == "stop", done  # cut at the fence
    assert done["text"] == WINK  # exactly, astral characters included
    assert done["hunks"] == hunks(ORIGINAL, WINK) and len(done["hunks"]) == 1
    assert len(deltas) > 2 and "".join(d["text"] for d in deltas) == WINK + "\n"  # streamed, fence held back
    # Real token counts: the tiny model's tokenizer over the very prompt the task built.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    entry = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"][-1]
    assert "make it wink" in entry["prompt"] and entry["text"] == WINK
    assert done["prompt_tokens"] == len(tok.encode(entry["prompt"], add_special_tokens=False)) > 20
    assert done["completion_tokens"] == len(tok.encode(WINK + "\n", add_special_tokens=False))


async def test_answers_in_turn_and_the_file_is_reread(jp_fetch: Any, answers: Path) -> None:
    write_answers(answers, [{"match": "first", "answers": ["a = 1\n```", "a = 2\n```"]}, {"answers": ["b = 0\n```"]}])
    await wait_ready(jp_fetch)
    texts = [(await post(jp_fetch, "edit", edit_body(f"t{i}", instr)))[-1]["text"] for i, instr in enumerate(["first", "first", "first", "other"])]
    assert texts == ["a = 1", "a = 2", "a = 2", "b = 0"]  # in turn, the last repeats; no match: the catch-all
    write_answers(answers, [{"match": "first", "answers": ["c = 3\n```"]}])  # a later step's script
    assert (await post(jp_fetch, "edit", edit_body("t9", "first")))[-1]["text"] == "c = 3"
    # No rule takes it: an edit gets its draft (the cell) back, a proposal of no change.
    done = (await post(jp_fetch, "edit", edit_body("t10", "unscripted")))[-1]
    assert done["text"] == ORIGINAL and done["hunks"] == []


async def test_max_tokens_cuts_at_a_whole_word(jp_fetch: Any, answers: Path) -> None:
    write_answers(answers, [{"answers": ["alpha beta gamma delta epsilon zeta eta theta"]}])
    await wait_ready(jp_fetch)
    events = await post(jp_fetch, "chat", {"request_id": "c1", "messages": [{"role": "user", "content": "hi"}]})
    done = events[-1]
    assert done["finish_reason"] == "eos" and done["text"] == "alpha beta gamma delta epsilon zeta eta theta"
    body = {"request_id": "g1", "instruction": "anything", "max_tokens": 3}
    done = (await post(jp_fetch, "generate", body))[-1]
    assert done["finish_reason"] == "length" and 0 < done["completion_tokens"] <= 3
    assert "alpha beta gamma delta epsilon zeta eta theta".startswith(done["text"]) and done["text"]


async def test_cancel_stops_the_scripted_stream(jp_fetch: Any, answers: Path) -> None:
    write_answers(answers, [{"answers": [" ".join(f"w{i}" for i in range(200))]}], delay_ms=50)
    await wait_ready(jp_fetch)
    request = asyncio.ensure_future(post(jp_fetch, "chat", {"request_id": "slow", "messages": [{"role": "user", "content": "hi"}]}))
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # cancel by id once the engine holds the request
        r = await jp_fetch("jupyter-assist", "cancel", method="POST", body=json.dumps({"request_id": "slow"}))
        if json.loads(r.body)["cancelled"]:
            break
        assert asyncio.get_running_loop().time() < deadline, "the request never became cancellable"
        await asyncio.sleep(0.02)
    done = (await asyncio.wait_for(request, 30))[-1]
    assert done["finish_reason"] == "cancelled" and len(done["text"].split()) < 200


async def test_a_broken_answers_file_is_an_error_event(jp_fetch: Any, answers: Path) -> None:
    answers.write_text("{not json")
    await wait_ready(jp_fetch)
    events = await post(jp_fetch, "edit", edit_body("b1", "make it wink"))
    assert events[-1]["type"] == "error" and "not valid JSON" in events[-1]["message"], events
    write_answers(answers, [])  # the server lives on
    assert (await post(jp_fetch, "edit", edit_body("b2", "x")))[-1]["text"] == ORIGINAL


async def test_generate_extracts_the_fenced_code_of_a_known_answer(jp_fetch: Any, answers: Path) -> None:
    answer = "Here it is:\n```python\nc = a + b\nprint(c)\n```\nThis adds them."
    write_answers(answers, [{"match": "add two numbers", "answers": [answer]}])
    await wait_ready(jp_fetch)
    done = (await post(jp_fetch, "generate", {"request_id": "g1", "instruction": "add two numbers", "code": "a, b = 1, 2"}))[-1]
    assert done["type"] == "done" and done["text"] == answer, done
    assert done["code"] == "c = a + b\nprint(c)\n"
