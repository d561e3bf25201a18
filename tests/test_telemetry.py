"""Local, opt-in telemetry: the route, the served events, and `jupyter assist stats`."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_assist import cli
from jupyter_assist.server import telemetry

from .conftest import ndjson, wait_ready


@pytest.fixture
def telemetry_on() -> bool:
    return True


@pytest.fixture
def telemetry_path(tmp_path: Path) -> Path:
    return tmp_path / "telemetry-dir" / "telemetry.jsonl"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], telemetry_on: bool, telemetry_path: Path) -> dict[str, Any]:
    ext = dict(jp_server_config["AssistExtension"], telemetry_file=str(telemetry_path))
    if telemetry_on:
        ext["telemetry"] = True
    return {**jp_server_config, "AssistExtension": ext}


async def post(jp_fetch: Any, route: str, body: Any, **kw: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return await jp_fetch("jupyter-assist", route, method="POST", body=data, **kw)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


SHOWN = {"event": "shown", "request_id": "r1", "task": "complete", "latency_ms": 85.5, "chars": 12}


def test_default_file_is_under_the_jupyter_data_dir() -> None:
    from jupyter_core.paths import jupyter_data_dir

    from jupyter_assist.server.app import AssistExtension

    ext = AssistExtension()
    assert ext.telemetry is False
    assert Path(ext.telemetry_file) == Path(jupyter_data_dir()) / "jupyter_assist" / "telemetry.jsonl"


@pytest.mark.parametrize("telemetry_on", [False])
async def test_off_by_default_writes_nothing(jp_fetch: Any, telemetry_path: Path) -> None:
    await wait_ready(jp_fetch)
    assert json.loads((await jp_fetch("jupyter-assist", "telemetry")).body) == {"enabled": False}
    r = await post(jp_fetch, "telemetry", SHOWN)
    assert json.loads(r.body) == {"recorded": False}
    events = ndjson((await post(jp_fetch, "complete", {"request_id": "c0", "prefix": "x = ", "max_tokens": 2})).body)
    assert events[-1]["type"] == "done"
    assert not telemetry_path.exists() and not telemetry_path.parent.exists()
    assert not telemetry.default_file().exists()


async def test_events_are_appended_as_json_lines(jp_fetch: Any, telemetry_path: Path) -> None:
    assert json.loads((await jp_fetch("jupyter-assist", "telemetry")).body) == {"enabled": True}
    sent = [
        SHOWN,
        {"event": "accepted", "request_id": "r1", "task": "complete", "chars": 12},
        {"event": "survived", "request_id": "r1", "task": "complete", "survived": True, "similarity": 0.75},
        {"event": "rejected", "request_id": "r2", "task": "next-edit", "extra": "ignored"},
        {"event": "accepted", "request_id": "r3", "task": "agent"},  # the agent's proposed cells
    ]
    for body in sent:
        assert json.loads((await post(jp_fetch, "telemetry", body)).body) == {"recorded": True}
    got = lines(telemetry_path)
    assert len(got) == len(sent)
    for line, body in zip(got, sent):
        ts = line.pop("ts")
        assert ts.endswith("Z") and ts[:4].isdigit()
        assert line == {k: v for k, v in body.items() if k != "extra"}


BAD = [
    ({"event": "clicked", "request_id": "r", "task": "complete"}, "event"),
    ({"event": "shown", "task": "complete"}, "request_id"),
    ({"event": "shown", "request_id": "r", "task": "nope"}, "task"),
    ({"event": "shown", "request_id": "r", "task": "complete", "latency_ms": -1}, "latency_ms"),
    ({"event": "shown", "request_id": "r", "task": "complete", "chars": "many"}, "chars"),
    ({"event": "survived", "request_id": "r", "task": "complete", "similarity": 1.5, "survived": True}, "similarity"),
    ({"event": "survived", "request_id": "r", "task": "complete"}, "survived"),
    ("{not json", "not valid JSON"),
]


@pytest.mark.parametrize("body,needle", BAD)
async def test_bad_event_gets_400_and_writes_nothing(jp_fetch: Any, telemetry_path: Path, body: Any, needle: str) -> None:
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "telemetry", body)
    assert e.value.code == 400
    assert needle in json.loads(e.value.response.body)["error"]
    assert not telemetry_path.exists()
    assert json.loads((await post(jp_fetch, "telemetry", SHOWN)).body) == {"recorded": True}


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_telemetry_needs_auth(jp_fetch: Any, telemetry_path: Path, method: str) -> None:
    body = json.dumps(SHOWN) if method == "POST" else None
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("jupyter-assist", "telemetry", method=method, body=body, headers={"Authorization": ""})
    assert e.value.code == 403
    assert not telemetry_path.exists()


async def test_failed_write_is_a_500_and_the_server_keeps_serving(jp_fetch: Any, telemetry_path: Path) -> None:
    await wait_ready(jp_fetch)
    telemetry_path.parent.write_text("a file where the directory should be")
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "telemetry", SHOWN)
    assert e.value.code == 500 and "Could not write telemetry" in json.loads(e.value.response.body)["error"]
    # Serving (which also tries to log a `served` event) is unaffected.
    events = ndjson((await post(jp_fetch, "complete", {"request_id": "c9", "prefix": "x = ", "max_tokens": 2})).body)
    assert events[-1]["type"] == "done"


async def test_served_event_logged_for_a_real_completion(jp_fetch: Any, telemetry_path: Path) -> None:
    await wait_ready(jp_fetch)
    body = {"request_id": "c1", "prefix": "def add(a, b):\n    return a", "max_tokens": 4}
    done = ndjson((await post(jp_fetch, "complete", body)).body)[-1]
    assert done["type"] == "done"
    served = [e for e in lines(telemetry_path) if e["event"] == "served"]
    assert len(served) == 1
    ev = served[0]
    assert ev["request_id"] == "c1" and ev["task"] == "complete"
    for key in ("latency_ms", "finish_reason", "prompt_tokens", "completion_tokens"):
        assert ev[key] == done[key]
    assert "prompt" not in ev and "text" not in ev  # no code is stored


# ---- jupyter assist stats ------------------------------------------------------------------------

EVENTS: list[dict[str, Any]] = [
    {"event": "served", "request_id": "a", "task": "complete", "latency_ms": 40.0, "finish_reason": "stop"},
    {"event": "shown", "request_id": "a", "task": "complete", "latency_ms": 120.0, "chars": 10},
    {"event": "accepted", "request_id": "a", "task": "complete"},
    {"event": "survived", "request_id": "a", "task": "complete", "survived": True, "similarity": 1.0},
    {"event": "served", "request_id": "b", "task": "complete", "latency_ms": 60.0, "finish_reason": "length"},
    {"event": "shown", "request_id": "b", "task": "complete", "latency_ms": 300.0},
    {"event": "rejected", "request_id": "b", "task": "complete"},
    {"event": "served", "request_id": "c", "task": "complete", "latency_ms": 90.0, "finish_reason": "stop"},
    {"event": "served", "request_id": "c0", "task": "complete", "latency_ms": 3.0, "finish_reason": "cancelled"},
    {"event": "shown", "request_id": "c", "task": "complete", "latency_ms": 95.0},
    {"event": "accepted", "request_id": "c", "task": "complete"},
    {"event": "survived", "request_id": "c", "task": "complete", "survived": False, "similarity": 0.25},
    {"event": "shown", "request_id": "d", "task": "complete"},  # no latency
    {"event": "shown", "request_id": "e", "task": "edit", "latency_ms": 900.0},
    {"event": "accepted", "request_id": "e", "task": "edit"},
    {"event": "survived", "request_id": "e", "task": "edit", "survived": True, "similarity": 0.5},
]
MALFORMED = [
    "not json at all",
    "[1, 2]",
    json.dumps({"event": "shown"}),
    json.dumps({"event": "boom", "task": "complete"}),
    json.dumps({"event": "shown", "task": "complete", "latency_ms": "fast"}),
]


def expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    def of(kind: str) -> list[dict[str, Any]]:
        return [e for e in events if e["event"] == kind]

    def median(xs: list[float]) -> float | None:
        return statistics.median(xs) if xs else None

    shown, accepted, surv = of("shown"), of("accepted"), of("survived")
    sims = [e["similarity"] for e in events if "similarity" in e]
    return {
        "shown": len(shown),
        "accepted": len(accepted),
        "rejected": len(of("rejected")),
        "served": len(of("served")),
        "cancelled": len([e for e in of("served") if e["finish_reason"] == "cancelled"]),
        "acceptance_rate": len(accepted) / len(shown) if shown else None,
        "median_shown_latency_ms": median([e["latency_ms"] for e in shown if "latency_ms" in e]),
        "median_served_latency_ms": median([e["latency_ms"] for e in of("served") if e["finish_reason"] != "cancelled"]),
        "survival_checks": len(surv),
        "survival_rate": sum(e["survived"] for e in surv) / len(surv) if surv else None,
        "mean_similarity": sum(sims) / len(sims) if sims else None,
    }


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    path = tmp_path / "telemetry.jsonl"
    rows = [json.dumps({"ts": "2026-01-01T00:00:00.000Z", **e}) for e in EVENTS]
    rows[3:3] = MALFORMED[:2]
    rows += ["", MALFORMED[2], *MALFORMED[3:]]
    path.write_text("\n".join(rows) + "\n" + '{"event": "shown", "trunc')  # a torn last line too
    return path


def test_stats_json_numbers(prepared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stats", "--file", str(prepared), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["skipped"] == len(MALFORMED) + 1
    assert out["events"] == len(EVENTS)
    tasks = sorted({e["task"] for e in EVENTS})
    assert sorted(out["tasks"]) == tasks
    for task in tasks:
        assert out["tasks"][task] == pytest.approx(expected([e for e in EVENTS if e["task"] == task]))
    assert out["total"] == pytest.approx(expected(EVENTS))
    # Spot-check the figures the issue names, against the events above.
    assert out["tasks"]["complete"]["acceptance_rate"] == pytest.approx(2 / 4)
    assert out["tasks"]["complete"]["median_shown_latency_ms"] == pytest.approx(120.0)


def test_stats_table(prepared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stats", "--file", str(prepared)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:-1]}
    assert set(rows) == {"complete", "edit", "all"}
    exp = expected([e for e in EVENTS if e["task"] == "complete"])
    assert rows["complete"][1:5] == [str(exp["shown"]), str(exp["accepted"]), str(exp["rejected"]), f"{exp['acceptance_rate'] * 100:.1f}"]
    assert f"{len(MALFORMED) + 1} malformed lines skipped" in text


def test_stats_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stats", "--file", str(tmp_path / "none.jsonl")]) == 1
    assert "no telemetry" in capsys.readouterr().err


def test_record_then_summarize_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "t.jsonl"
    off = telemetry.Telemetry(None)
    assert off.record(SHOWN) is False and not path.exists()
    on = telemetry.Telemetry(path)
    for e in EVENTS:
        assert on.record(e) is True
    summary = telemetry.summarize(path)
    assert summary["skipped"] == 0 and summary["total"] == pytest.approx(expected(EVENTS))
