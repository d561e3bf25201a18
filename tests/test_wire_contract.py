"""The wire contract is written three times: the pydantic models (jupyter_assist/wire.py,
what the server accepts), the TypeScript interfaces (labextension/src/shared/types.ts, what the
lab sends) and docs/api.md (what a reader is told). This checks they agree on field names
and on required-ness, so a field added, renamed or made required in one is not left out of
the others.

Rules: the TS interface (with what it extends) has exactly the model's fields; a field the
server requires is required in TS (the lab may also always send one the server defaults);
every field docs/api.md names in a route's body exists on its model, and one it marks
optional (`"name"?:`) is optional on the server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from jupyter_assist import wire

ROOT = Path(__file__).resolve().parents[1]
TYPES_TS = ROOT / "labextension" / "src" / "shared" / "types.ts"
API_MD = ROOT / "docs" / "api.md"

# pydantic model -> its TypeScript interface
PAIRS: dict[type[BaseModel], str] = {
    wire.NotebookCell: "INotebookCell",
    wire.Variable: "IVariable",
    wire.ChatMessage: "IChatMessage",
    wire.Attachment: "IAttachment",
    wire.CompleteRequest: "ICompleteRequest",
    wire.ChatRequest: "IChatRequest",
    wire.GenerateRequest: "IGenerateRequest",
    wire.EditRequest: "IEditRequest",
    wire.FixRequest: "IFixRequest",
    wire.WarmRequest: "IWarmRequest",
    wire.TelemetryEvent: "ITelemetryEvent",
    wire.CellEdit: "ICellEdit",
    wire.NextEditRequest: "INextEditRequest",
    wire.AgentStep: "IAgentStep",
    wire.AgentRequest: "IAgentRequest",
    wire.SwitchModelRequest: "ISwitchModelRequest",
}
# route in docs/api.md -> the model of its body
ROUTES: dict[str, type[BaseModel]] = {
    "complete": wire.CompleteRequest,
    "chat": wire.ChatRequest,
    "generate": wire.GenerateRequest,
    "edit": wire.EditRequest,
    "fix": wire.FixRequest,
    "next-edit": wire.NextEditRequest,
    "agent": wire.AgentRequest,
    "cancel": wire.CancelRequest,
    "telemetry": wire.TelemetryEvent,
    "models": wire.SwitchModelRequest,
}

_INTERFACE = re.compile(r"^export interface (\w+)(?: extends ([\w, ]+))? \{$")
_FIELD = re.compile(r"^  (?:readonly )?(\w+)(\?)?:")


def ts_interfaces(text: str) -> dict[str, tuple[dict[str, bool], list[str]]]:
    """interface -> ({field: required}, the interfaces it extends), from the top-level
    `export interface` blocks (fields at two spaces of indent; nested types skipped)."""
    out: dict[str, tuple[dict[str, bool], list[str]]] = {}
    current: dict[str, bool] | None = None
    for line in text.splitlines():
        m = _INTERFACE.match(line)
        if m:
            current = {}
            out[m.group(1)] = (current, [b.strip() for b in (m.group(2) or "").split(",") if b.strip()])
        elif line.startswith("}"):
            current = None
        elif current is not None and (f := _FIELD.match(line)):
            current[f.group(1)] = f.group(2) is None
    return out


def ts_fields(name: str, interfaces: dict[str, tuple[dict[str, bool], list[str]]]) -> dict[str, bool]:
    own, bases = interfaces[name]
    fields: dict[str, bool] = {}
    for base in bases:
        fields.update(ts_fields(base, interfaces))
    fields.update(own)  # an interface may narrow what it extends (optional -> required)
    return fields


def py_fields(model: type[BaseModel]) -> dict[str, bool]:
    return {name: f.is_required() for name, f in model.model_fields.items()}


def top_level_keys(body: str) -> dict[str, bool]:
    """{key: required} of a `{"key": type, "key"?: type}` text, nested objects skipped."""
    keys: dict[str, bool] = {}
    depth = 0
    for m in re.finditer(r'[{}\[\]]|"(\w+)"(\??):', body):
        if m.group(0) in "{[":
            depth += 1
        elif m.group(0) in "}]":
            depth -= 1
        elif depth == 1:
            keys[m.group(1)] = m.group(2) != "?"
    return keys


def doc_bodies(text: str) -> dict[str, dict[str, bool]]:
    """route -> {field: required} from the first `{...}` in backticks of its `- \\`POST route\\`` bullet."""
    out: dict[str, dict[str, bool]] = {}
    for m in re.finditer(r"^- `POST ([\w-]+)`(.*?)(?=^- `|^## |\Z)", text, re.M | re.S):
        start = m.group(2).find("`{")
        if start < 0:
            continue
        body, depth = m.group(2)[start + 1 :], 0
        for i, ch in enumerate(body):  # up to the brace that closes the first one
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth == 0:
                out[m.group(1)] = top_level_keys(body[: i + 1])
                break
    return out


INTERFACES = ts_interfaces(TYPES_TS.read_text(encoding="utf-8"))
DOCS = doc_bodies(API_MD.read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", list(PAIRS), ids=lambda m: m.__name__)
def test_typescript_interface_matches_the_model(model: type[BaseModel]) -> None:
    ts, py = ts_fields(PAIRS[model], INTERFACES), py_fields(model)
    assert set(ts) == set(py), f"{PAIRS[model]}: only in types.ts {set(ts) - set(py)}, only in wire.py {set(py) - set(ts)}"
    loose = [k for k, required in py.items() if required and not ts[k]]
    assert not loose, f"{PAIRS[model]}: the server requires {loose}, types.ts lets the lab leave them out"


@pytest.mark.parametrize("route", list(ROUTES))
def test_docs_describe_the_model(route: str) -> None:
    assert route in DOCS, f"docs/api.md has no body for POST {route}"
    doc, py = DOCS[route], py_fields(ROUTES[route])
    unknown = set(doc) - set(py)
    assert not unknown, f"POST {route}: docs/api.md names {unknown}, which {ROUTES[route].__name__} does not have"
    wrong = [k for k, required in doc.items() if not required and py[k]]
    assert not wrong, f"POST {route}: docs/api.md says {wrong} are optional, the server requires them"
    missing = [k for k, required in py.items() if required and k not in doc]
    assert not missing, f"POST {route}: the server requires {missing}, docs/api.md does not say so"


def test_the_parsers_read_what_they_check() -> None:
    """The checks above are only as good as the parsing: it must see these fields."""
    assert ts_fields("IFixRequest", INTERFACES)["cell_index"] is True
    assert ts_fields("IFixRequest", INTERFACES)["seed"] is False  # inherited from INotebookContext
    assert DOCS["complete"]["prefix"] is True and DOCS["complete"]["delay_ms"] is False
    assert set(PAIRS.values()) <= set(INTERFACES)


SETTINGS_JSON = ROOT / "labextension" / "schema" / "settings.json"
# settings page section -> the request its maxTokens is sent on (0: not sent)
LIMITS: dict[str, type[BaseModel]] = {
    "ghostText": wire.CompleteRequest,
    "nextEdit": wire.NextEditRequest,
    "chat": wire.ChatRequest,
    "edit": wire.EditRequest,
    "fix": wire.FixRequest,
}


@pytest.mark.parametrize("section", list(LIMITS))
def test_settings_page_limits_are_what_the_server_accepts(section: str) -> None:
    """A limit the settings page lets the user pick is one the request's model takes (its
    `le`), so no value on the page turns into a 400; 0 (the server's default) is not sent."""
    import json

    limit = json.loads(SETTINGS_JSON.read_text(encoding="utf-8"))["properties"][section]["properties"]["maxTokens"]
    le = [m.le for m in LIMITS[section].model_fields["max_tokens"].metadata if hasattr(m, "le")]
    assert limit["minimum"] == 0 and [limit["maximum"]] == le, (section, limit, le)
