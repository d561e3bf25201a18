"""Next edit through a real jupyter_server on the remote backend (backend='openai'), against
the fake OpenAI server: the model's rewrite becomes proposals only when the server's token
log-probabilities pass next_edit_min_logprob (issue 18); against a real `transformers serve`,
which sends none, only the renames analysis finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_assist.testing.processes import free_port

from .conftest import ndjson, wait_ready
from .test_next_edit import PRICES_REQ
from .test_remote import FakeOpenAI, served  # noqa: F401  (served: a fixture, module-scoped here too)
from .test_server import post

RENAME = (2, ["total = sum(costs)"], "rename")
# The model's rewrite: one change beside the rename (line 1), streamed a line per chunk.
REWRITE = ["costs = [1, 2]\n", 'print("hello")\n', "total = sum(prices)\n", "```"]
MODEL = (1, ['print("hello")'], "model")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(free_port())
    server.answer = REWRITE
    server.start()
    yield server
    server.stop()


@pytest.fixture
def remote(request: pytest.FixtureRequest, fake: FakeOpenAI) -> tuple[str, float]:
    """(server URL, next_edit_min_logprob): the fake at the default threshold, or with
    the indirect parameter "served" a real `transformers serve` at one any logprob passes."""
    if getattr(request, "param", "fake") == "served":
        return request.getfixturevalue("served"), -1000.0
    return fake.url, -0.3


@pytest.fixture
def jp_server_config(remote: tuple[str, float], tiny_model_dir: Path) -> dict[str, Any]:
    url, min_logprob = remote
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_assist": True}},
        "AssistExtension": {
            "backend": "openai",
            "remote_url": url + "/v1",
            "model": str(tiny_model_dir),
            "next_edit_min_logprob": min_logprob,
        },
    }


async def _next_edit(jp_fetch: Any, **extra: Any) -> dict[str, Any]:
    status = await wait_ready(jp_fetch)
    assert status["state"] == "ready", status
    events = ndjson((await post(jp_fetch, "next-edit", {**PRICES_REQ, **extra})).body)
    assert events[0]["type"] == "proposals" and events[-1]["type"] == "done", events
    return events[-1]


def _found(done: dict[str, Any]) -> list[tuple[int, list[str], str]]:
    return [(p["start_line"], p["new"], p["reason"].split()[0]) for p in done["proposals"]]


@pytest.mark.parametrize(
    "token_logprobs,logprob,found",
    [
        ([-0.01, -0.05, -0.02, -0.12], -0.05, [MODEL, RENAME]),  # sure: the rewrite's change comes too
        ([-0.2, -1.5, -0.2, -0.1], -0.5, [RENAME]),  # unsure (below -0.3): only what analysis found
        (None, None, [RENAME]),  # the server says nothing (transformers serve): the same
    ],
)
async def test_remote_next_edit_follows_the_servers_logprobs(
    jp_fetch: Any, fake: FakeOpenAI, token_logprobs: list[float] | None, logprob: float | None, found: list
) -> None:
    fake.token_logprobs = token_logprobs
    done = await _next_edit(jp_fetch)
    assert fake.bodies[-1]["logprobs"] == 1 and "```" in fake.bodies[-1]["stop"]
    assert done["logprob"] == (None if logprob is None else pytest.approx(logprob)), done
    assert _found(done) == found, done


@pytest.mark.parametrize("remote", ["served"], indirect=True)
async def test_remote_next_edit_against_transformers_serve_keeps_to_the_renames(jp_fetch: Any) -> None:
    # transformers serve (5.x) takes `logprobs` but sends none: `done` says None and, at a
    # threshold any logprob would pass, still no model proposal; the renames come.
    done = await _next_edit(jp_fetch, max_tokens=16)
    assert done["completion_tokens"] > 0 and done["logprob"] is None, done
    assert _found(done) == [RENAME], done
