"""Review widget state without a browser: streaming, accept, reject, regenerate, escaping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jupyter_assist.kernel.client import AssistError
from jupyter_assist.kernel.proposal import Job
from jupyter_assist.kernel.widget import ReviewWidget


class FakeStream:
    def __init__(self, answers: list[str]) -> None:
        self.answers, self.bodies = answers, []
        self.seen_while_streaming: list[str] = []

    def __call__(self, route: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.bodies.append((route, body))
        answer = self.answers[len(self.bodies) - 1]
        if answer == "ERROR":
            raise AssistError("generation failed")
        for ch in (answer[: len(answer) // 2], answer[len(answer) // 2 :]):
            yield {"type": "delta", "text": ch}
        yield {"type": "done", "text": answer, "code": answer}


def _widget(answers: list[str], target: str = "", route: str = "generate") -> tuple[ReviewWidget, FakeStream, list[str]]:
    stream, accepted = FakeStream(answers), []
    job = Job(route, {"instruction": "x"}, target=target, result_key="code" if route == "generate" else "text")
    return ReviewWidget(job, stream, lambda code, _id: accepted.append(code)), stream, accepted


def test_accept_offers_exactly_the_code_once() -> None:
    w, stream, accepted = _widget(["print('a')\n"])
    assert w.status == "streaming" and w.accept_button.disabled
    w.run()
    assert (w.status, w.code) == ("ready", "print('a')\n") and not w.accept_button.disabled
    w.accept()
    w.accept()
    assert accepted == ["print('a')\n"] and w.status == "accepted"
    w.reject()
    w.regenerate()
    assert w.status == "accepted" and len(stream.bodies) == 1  # final once accepted


def test_reject_writes_nothing() -> None:
    w, _, accepted = _widget(["x = 1\n"])
    w.run()
    w.reject()
    w.accept()
    assert (w.status, w.code, accepted, w.body.value) == ("rejected", "", [], "")


def test_regenerate_reruns_with_a_new_request_id() -> None:
    w, stream, accepted = _widget(["a = 1\n", "b = 2\n"])
    w.run()
    w.regenerate()
    assert w.code == "b = 2\n" and w.status == "ready"
    ids = [b["request_id"] for _, b in stream.bodies]
    assert len(set(ids)) == 2 and ids == w.job.request_ids
    # The first run is greedy; Regenerate samples with a fresh seed (else the same text).
    first, again = (b for _, b in stream.bodies)
    assert "temperature" not in first and "seed" not in first
    assert again["temperature"] == 0.7 and isinstance(again["seed"], int)
    w.accept()
    assert accepted == ["b = 2\n"]


def test_errors_and_empty_answers_cannot_be_accepted() -> None:
    w, _, accepted = _widget(["ERROR", "", "ok = 1\n"])
    w.run()
    assert w.status == "error" and "generation failed" in w.error
    w.regenerate()
    assert w.status == "error" and "no code" in w.error
    w.accept()
    w.regenerate()
    assert w.status == "ready" and accepted == []


def test_model_output_is_escaped_and_diffed_against_target() -> None:
    w, _, _ = _widget(["<script>alert(1)</script>\ny = 2\n"], target="y = 1\n", route="edit")
    w.run()
    assert "<script>" not in w.body.value and "&lt;script&gt;" in w.body.value
    assert "-y = 1" in w.body.value and "+y = 2" in w.body.value


def test_streaming_view_shows_deltas() -> None:
    w, _, _ = _widget(["abcdef"])
    shown: list[str] = []
    w._delta = lambda t, orig=w._delta: (orig(t), shown.append(w.streamed))  # type: ignore[method-assign]
    w.run()
    assert shown == ["abc", "abcdef"]


def test_accept_shows_where_the_code_went() -> None:
    stream, notes = FakeStream(["z = 3\n"]), ["written to the notebook"]
    w = ReviewWidget(Job("generate", {"instruction": "x"}, result_key="code"), stream, lambda code, _id: notes.pop())
    w.run()
    assert "written to the notebook" not in w.title.value
    w.accept()
    assert w.note == "written to the notebook" and "accepted: written to the notebook" in w.title.value


def test_acceptor_without_a_frontend_offers_the_code() -> None:
    """Plain IPython: no kernel, so no comm; Accept falls back to set_next_input."""
    from jupyter_assist.kernel.bridge import Bridge, acceptor

    offered: list[str] = []
    bridge = Bridge()
    accept = acceptor(bridge, offered.append, "cell-1", target="x = 1", target_cell_id="cell-0")
    assert "next cell you run" in accept("x = 2\n", "0" * 32)
    assert offered == ["x = 2\n"] and not bridge.ready()
