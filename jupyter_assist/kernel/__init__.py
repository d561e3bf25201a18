"""Kernel side of jupyter-assist: magics that talk to the server. Never imports torch."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from .magics import AssistMagics

    ipython.register_magics(AssistMagics)
