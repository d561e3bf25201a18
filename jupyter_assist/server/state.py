"""What the handlers share: the engine, the tasks' settings, the history and telemetry.

The extension app builds one at start (app.py) and hands it to tornado's settings; the
handlers read only this, so they never import the app (no handlers <-> app import circle).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ..engine import Engine
from ..tasks import TaskSettings
from .telemetry import Telemetry

SETTINGS_KEY = "jupyter_assist"  # where the state lives in the tornado settings


@dataclass
class ServerState:
    engine: Engine
    tasks: TaskSettings
    history: deque[dict[str, Any]]  # the recent requests GET /history shows
    telemetry_log: Telemetry
    max_body_bytes: int
