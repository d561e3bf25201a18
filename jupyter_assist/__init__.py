"""jupyter-assist: a Jupyter-native AI pair programmer on a local language model.

This module is imported both by the Jupyter server and inside users' kernels, so it
imports nothing heavy: the server side is loaded through `_jupyter_server_extension_points`,
the kernel side through `load_ipython_extension`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:  # one version source: labextension/package.json, through the package metadata
    __version__ = version("jupyter-assist")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-assist"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import AssistExtension

    return [{"module": "jupyter_assist", "app": AssistExtension}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_assist` in a kernel: registers the %assist magics."""
    from .kernel import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext` / `%reload_ext`: closes the bridge comms, so a reload's handshake is the bridge."""
    from .kernel import unload_ipython_extension as unload

    unload(ipython)
