"""POST agent through a real jupyter_server on the scripted model: the next action in the
done event, a clear error action for an answer that fits none, cancel, validation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_assist.engine.types import PRIORITY_AGENT, PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT
from jupyter_assist.testing.scripted import write_answers

from .conftest import ndjson, wait_ready
from .scripted_server import answers, jp_server_config  # noqa: F401  (fixtures)

F = "```"
CELLS = [
    {"cell_type": "code", "source": "import pandas as pd\ndf = pd.read_csv('sales.csv')"},
    {
        "cell_type": "code",
        "source": "print(df.revenue.sum())\n",
        "outputs": [{"output_type": "error", "ename": "AttributeError", "evalue": "'DataFrame' object has no attribute 'revenue'", "traceback": []}],
    },
]
STEP = {"kind": "code", "source": "print(df.revenue.sum())\n", "cell_index": 1, "ran": True, "outputs": CELLS[1]["outputs"]}


async def agent(jp_fetch: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    return ndjson((await jp_fetch("jupyter-assist", "agent", method="POST", body=json.dumps(body))).body)


def body(rid: str, **kw: Any) -> dict[str, Any]:
    return {"request_id": rid, "goal": "Total revenue?", "cells": CELLS, **kw}


async def test_the_next_action_comes_in_the_done_event(jp_fetch: Any, answers: Path) -> None:
    # The prompt ends with the assistant's "ACTION: ": the model (here the script) goes on from it.
    write_answers(
        answers,
        [
            {"match": "It raised an error", "answers": [f" edit 2\n{F}python\nprint(df['Revenue'].sum())\n{F}\nACTION: done\nx"]},
            {"answers": [f" code\nLook first.\n{F}python\nprint(df.columns)\n{F}\n"]},
        ],
    )
    await wait_ready(jp_fetch)
    first = (await agent(jp_fetch, body("a1")))[-1]
    assert first["type"] == "done"
    assert first["action"] == {"kind": "code", "source": "print(df.columns)\n", "cell_index": None, "text": "Look first.", "notes": []}
    assert first["text"].startswith("ACTION: code\n")
    fix = (await agent(jp_fetch, body("a2", steps=[STEP])))[-1]
    # Stopped at the second header (the stop string): one request, one action.
    assert fix["action"]["kind"] == "edit" and fix["action"]["cell_index"] == 1 and "ACTION: done" not in fix["text"]
    assert fix["action"]["source"] == "print(df['Revenue'].sum())\n"
    assert fix["action"]["hunks"] == [
        {"old_start": 0, "old_end": 1, "new_start": 0, "new_end": 1, "old": ["print(df.revenue.sum())"], "new": ["print(df['Revenue'].sum())"]}
    ]
    history = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"]
    prompt = history[-1]["prompt"]
    assert history[-1]["task"] == "agent" and prompt.endswith("ACTION: ")
    assert "AttributeError: 'DataFrame' object has no attribute 'revenue'" in prompt and "Total revenue?" in prompt


async def test_an_answer_that_fits_no_action_is_an_error_action(jp_fetch: Any, answers: Path) -> None:
    write_answers(answers, [{"answers": [" I am not sure what to do here."]}])
    await wait_ready(jp_fetch)
    done = (await agent(jp_fetch, body("e1")))[-1]
    assert done["type"] == "done" and done["action"]["kind"] == "error" and "Unknown action" in done["action"]["text"]
    write_answers(answers, [{"answers": [""]}])
    done = (await agent(jp_fetch, body("e2")))[-1]
    assert done["action"]["kind"] == "error" and done["action"]["text"]


async def test_cancel_stops_an_agent_step(jp_fetch: Any, answers: Path) -> None:
    write_answers(answers, [{"answers": [" code\n" + " ".join(f"w{i}" for i in range(300))]}], delay_ms=50)
    await wait_ready(jp_fetch)
    request = asyncio.ensure_future(agent(jp_fetch, body("slow")))
    deadline = asyncio.get_running_loop().time() + 30
    while not json.loads((await jp_fetch("jupyter-assist", "cancel", method="POST", body=json.dumps({"request_id": "slow"}))).body)["cancelled"]:
        assert asyncio.get_running_loop().time() < deadline, "the request never became cancellable"
        await asyncio.sleep(0.02)
    done = (await asyncio.wait_for(request, 30))[-1]
    assert done["finish_reason"] == "cancelled" and len(done["text"].split()) < 300


@pytest.mark.parametrize("bad", [{"goal": ""}, {"steps": [{**STEP, "cell_index": 7}]}, {"steps": [{"kind": "dance"}]}, {"max_steps": 0}])
async def test_bad_requests_are_400(jp_fetch: Any, answers: Path, bad: dict[str, Any]) -> None:
    write_answers(answers, [])
    await wait_ready(jp_fetch)
    with pytest.raises(HTTPClientError) as e:
        await agent(jp_fetch, {**body("bad"), **bad})
    assert e.value.code == 400


def test_agent_priority_sits_between_completions_and_chat() -> None:
    assert PRIORITY_COMPLETE < PRIORITY_EDIT < PRIORITY_AGENT < PRIORITY_CHAT
