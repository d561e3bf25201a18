"""Kernel end of the comm between `%%assist` and the jupyter-assist labextension.

Why a comm: `set_next_input` reaches JupyterLab only inside the reply to an execute request,
so an Accept click (a widget comm message, handled after the cell finished) could not write
a cell. Through the comm the labextension writes the notebook model itself.

Handshake, in both directions so that neither side's start order matters, and without ever
waiting for an answer (while a cell runs, incoming comm messages are not processed):
- `%load_ext jupyter_assist` registers the kernel-side target `jupyter_assist` and opens a
  comm to the labextension's target of the same name; every labextension holding this
  kernel answers `{"ready": true}` on it.
- A labextension that connects later (a page reload) and finds an open `jupyter_assist` comm
  in comm_info opens its own comm to the kernel's target with `{"ready": true}`.
The answers are processed between cells. Readiness is recorded per frontend session (the
`session` of the message header): a click comes from one frontend, so Accept writes through
that frontend's comm only, and names the session so that other frontends sharing the comm
ignore it. No ready frontend at click time: the caller falls back to `set_next_input`.

Any kernel code can open a comm or send on this one, so the labextension trusts neither:
it writes a cell only for a message on the one comm it holds per kernel session (the first
handshake; a later `jupyter_assist` comm is ignored while that one is open) that names the
`accept_id` of an Accept button the user really clicked in that notebook (a trusted DOM
click, recorded by the labextension; one use, short expiry). Unloading closes every comm the
bridge watched, so that `%reload_ext` hands the labextension a fresh handshake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TARGET = "jupyter_assist"
PROTOCOL = 1


class Bridge:
    def __init__(self) -> None:
        self._comms: dict[str, Any] = {}  # frontend session -> the comm it said ready on
        self._own: Any = None  # the comm %load_ext opened
        self._watched: list[Any] = []  # every comm of this bridge, closed on unload
        self._shell: Any = None
        self._registered = False
        self.cell_ids: dict[int, str] = {}  # In index -> frontend cell id (JupyterLab's cellId)

    def install(self, shell: Any) -> None:
        self._shell = shell
        shell.events.register("post_run_cell", self._post_run_cell)
        if getattr(shell, "kernel", None) is None:
            return  # plain IPython: no frontend to talk to
        from comm import create_comm, get_comm_manager

        get_comm_manager().register_target(TARGET, self._on_open)
        self._registered = True
        self._own = create_comm(target_name=TARGET, data={"protocol": PROTOCOL})
        self._watch(self._own)

    def uninstall(self, shell: Any) -> None:
        try:
            shell.events.unregister("post_run_cell", self._post_run_cell)
        except ValueError:
            pass
        if self._registered:
            from comm import get_comm_manager

            get_comm_manager().unregister_target(TARGET, self._on_open)
            self._registered = False
        # The labextension holds one bridge comm at a time: closing ours (the frontends'
        # too) frees it for the handshake of a reload.
        for comm in self._watched:
            comm.close()
        self._watched.clear()
        self._own = None
        self._comms.clear()

    # -- frontend presence --------------------------------------------------------------

    def _on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        self._watch(comm)
        self._received(comm, msg)

    def _watch(self, comm: Any) -> None:
        self._watched.append(comm)
        comm.on_msg(lambda msg: self._received(comm, msg))
        comm.on_close(lambda _msg: self._forget(comm))

    def _received(self, comm: Any, msg: dict[str, Any]) -> None:
        data = (msg.get("content") or {}).get("data") or {}
        session = (msg.get("header") or {}).get("session")
        if data.get("ready") is True and isinstance(session, str):
            self._comms[session] = comm

    def _forget(self, comm: Any) -> None:
        for session in [s for s, c in self._comms.items() if c is comm]:
            del self._comms[session]
        if comm is self._own:
            self._own = None
        if comm in self._watched:
            self._watched.remove(comm)

    def _parent(self) -> dict[str, Any]:
        kernel = getattr(self._shell, "kernel", None)
        return (kernel.get_parent() if kernel is not None else None) or {}

    def session(self) -> str | None:
        """Session of the frontend whose request (execute, or a widget click) is being handled."""
        session = (self._parent().get("header") or {}).get("session")
        return session if isinstance(session, str) else None

    def ready(self) -> bool:
        """Whether the frontend of the current request answered the handshake."""
        session = self.session()
        return session is not None and session in self._comms

    def send(self, payload: dict[str, Any]) -> bool:
        """Send `payload` to the current request's frontend; False when it never answered."""
        session = self.session()
        comm = self._comms.get(session) if session else None
        if comm is None:
            return False
        comm.send({**payload, "session": session})
        return True

    # -- cell ids -----------------------------------------------------------------------

    def current_cell_id(self) -> str | None:
        """JupyterLab sends the running cell's id in the execute request's metadata."""
        cell_id = (self._parent().get("metadata") or {}).get("cellId")
        return cell_id if isinstance(cell_id, str) else None

    def _post_run_cell(self, result: Any) -> None:
        # A stored cell's execution_count is its In index (failed cells included).
        cell_id = getattr(getattr(result, "info", None), "cell_id", None)
        count = getattr(result, "execution_count", None)
        if cell_id and isinstance(count, int) and getattr(result.info, "store_history", False):
            self.cell_ids[count] = cell_id


def acceptor(
    bridge: Bridge, offer: Callable[[str], None], cell_id: str | None, target: str = "", target_cell_id: str | None = None
) -> Callable[[str, str], str]:
    """What Accept does with the code: returns a note for the widget.

    Through the labextension: replace the target cell (if the proposal has one) or insert
    after the %%assist cell `cell_id`; the message names the clicked button's `accept_id`,
    without which the labextension writes nothing. Otherwise `offer` (set_next_input), which
    JupyterLab and the classic notebook apply with the reply of the next cell run, and
    IPython's terminal and console put in the next prompt.
    """

    def accept(code: str, accept_id: str) -> str:
        if cell_id is not None:
            payload: dict[str, Any]
            if target and target_cell_id is not None:
                payload = {"action": "replace", "cell_id": target_cell_id, "expected": target, "after": cell_id, "code": code}
            else:
                payload = {"action": "insert", "cell_id": cell_id, "code": code}
            payload["accept_id"] = accept_id
            if bridge.send(payload):
                return "written to the notebook by the jupyter-assist labextension"
        offer(code)
        return "no jupyter-assist labextension answered: the code appears below the next cell you run"

    return accept
