"""Request bodies: bytes -> a validated wire model, or an HTTP 4xx that says what is wrong."""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from pydantic import BaseModel, ValidationError

# Deeper than any notebook output a person looks at (nbformat itself is 5 levels deep),
# well inside the interpreter's recursion limit, which json and later code both meet.
MAX_DEPTH = 200
_TOO_DEEP = object()


def too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON data nests lists/objects more than `limit` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse(body: bytes, model: type[BaseModel], max_bytes: int) -> Any:
    """Runs off the event loop (an 8 MB body takes a while to decode and validate)."""
    if len(body) > max_bytes:
        raise tornado.web.HTTPError(413, f"Request body over {max_bytes} bytes.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise tornado.web.HTTPError(400, f"Body is not valid UTF-8: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise tornado.web.HTTPError(400, f"Body is not valid JSON: {e}") from None
    except RecursionError:  # deeper than the interpreter's limit
        data = _TOO_DEEP
    if data is _TOO_DEEP or too_deep(data):
        raise tornado.web.HTTPError(400, f"Body is not valid: JSON nested deeper than {MAX_DEPTH} levels.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "body"
        raise tornado.web.HTTPError(400, f"Invalid request: {where}: {first['msg']}") from None
