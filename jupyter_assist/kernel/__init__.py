"""Kernel side of jupyter-assist: magics that talk to the server. Never imports torch."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from . import transform
    from .magics import AssistMagics

    transform.install(ipython)  # `%%assist <instruction>` with an empty body works
    magics = AssistMagics(ipython)
    magics.recorder.install(ipython)  # %assist fix needs the last exception and its cell
    magics.bridge.install(ipython)  # Accept writes cells through the labextension, if one answers
    ipython.register_magics(magics)


def unload_ipython_extension(ipython: Any) -> None:
    from . import transform

    transform.uninstall(ipython)
    magics = ipython.magics_manager.registry.get("AssistMagics")
    if magics is not None:
        magics.recorder.uninstall(ipython)
        magics.bridge.uninstall(ipython)
