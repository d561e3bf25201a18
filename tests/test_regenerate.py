"""Regenerate and cut-off answers through a real jupyter_server on the tiny model (issue 18).

Regenerate sends `temperature` > 0 and a fresh `seed`: the seed reaches the sampler (the
same seed repeats an answer, another one differs), and a sampled request without a seed
draws a fresh one (a new torch.Generator always starts from one default seed, so every
sampled request used to repeat the last). A `done` event says why the answer ended: a chat
answer at its token cap is `length`, which the chat shows as cut off.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import ndjson, wait_ready

SOURCE = "def area(w, h):\n    return w * h\n"


async def post(jp_fetch: Any, route: str, body: dict[str, Any]) -> dict[str, Any]:
    events = ndjson((await jp_fetch("jupyter-assist", route, method="POST", body=json.dumps(body))).body)
    assert events[-1]["type"] == "done", events[-1]
    return events[-1]


def edit(request_id: str, **sampling: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "instruction": "rename w to width",
        "source": SOURCE,
        "cells": [{"cell_type": "code", "source": SOURCE}],
        "cell_index": 0,
        # No user limit: a rewrite cut by one keeps the cell's unreached lines
        # (tasks/unreached.py), and the tiny model's rewrites are cut, all alike.
        **sampling,
    }


async def test_greedy_repeats_and_a_new_seed_gives_another_text(jp_fetch: Any) -> None:
    assert (await wait_ready(jp_fetch))["state"] == "ready"
    greedy = [(await post(jp_fetch, "edit", edit(f"g{i}")))["text"] for i in range(2)]
    assert greedy[0] == greedy[1]  # the bug report: Regenerate was greedy, byte-identical
    same = [(await post(jp_fetch, "edit", edit(f"s{i}", temperature=0.7, seed=1234)))["text"] for i in range(2)]
    assert same[0] == same[1]  # the seed reaches the sampler: it repeats the answer
    other = (await post(jp_fetch, "edit", edit("s2", temperature=0.7, seed=98765)))["text"]
    assert other != same[0]
    assert greedy[0] not in (same[0], other)  # sampled, not the greedy text


async def test_sampling_without_a_seed_draws_a_fresh_one(jp_fetch: Any) -> None:
    assert (await wait_ready(jp_fetch))["state"] == "ready"
    texts = {(await post(jp_fetch, "edit", edit(f"n{i}", temperature=0.7)))["text"] for i in range(3)}
    assert len(texts) == 3


async def test_fix_and_chat_take_the_seed(jp_fetch: Any) -> None:
    assert (await wait_ready(jp_fetch))["state"] == "ready"
    error = {"output_type": "error", "ename": "NameError", "evalue": "name 'x' is not defined", "traceback": []}
    cells = [{"cell_type": "code", "source": "print(x)\n", "outputs": [error]}]
    fix = [
        (await post(jp_fetch, "fix", {"request_id": f"f{i}", "cells": cells, "cell_index": 0, "max_tokens": 30, "temperature": 0.7, "seed": seed}))[
            "text"
        ]
        for i, seed in enumerate((5, 5, 6))
    ]
    assert fix[0] == fix[1] != fix[2]
    chat = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.7}
    texts = [(await post(jp_fetch, "chat", {"request_id": f"c{i}", **chat, "seed": seed}))["text"] for i, seed in enumerate((7, 7, 8))]
    assert texts[0] == texts[1] != texts[2]


async def test_a_chat_answer_at_its_cap_says_length(jp_fetch: Any) -> None:
    assert (await wait_ready(jp_fetch))["state"] == "ready"
    # temperature 1.5: a long random answer (greedy random weights may loop or stop early);
    # the conftest caps chat at 24 tokens.
    done = await post(
        jp_fetch, "chat", {"request_id": "cap", "messages": [{"role": "user", "content": "Tell me a long story"}], "temperature": 1.5, "seed": 3}
    )
    assert done["finish_reason"] == "length" and done["completion_tokens"] == 24, done


async def test_the_users_chat_limit_holds_within_the_servers_cap(jp_fetch: Any) -> None:
    assert (await wait_ready(jp_fetch))["state"] == "ready"
    body = {"messages": [{"role": "user", "content": "Tell me a long story"}], "temperature": 1.5, "seed": 3}
    short = await post(jp_fetch, "chat", {"request_id": "short", **body, "max_tokens": 5})
    assert short["finish_reason"] == "length" and short["completion_tokens"] == 5, short
    over = await post(jp_fetch, "chat", {"request_id": "over", **body, "max_tokens": 1000})
    assert over["finish_reason"] == "length" and over["completion_tokens"] == 24, over  # the conftest's cap


async def test_a_seed_out_of_range_is_a_400(jp_fetch: Any) -> None:
    from tornado.httpclient import HTTPClientError

    assert (await wait_ready(jp_fetch))["state"] == "ready"
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "edit", edit("bad", temperature=0.7, seed=-1))
    assert e.value.code == 400
