"""Remember the last exception and the cell that raised it, for `%assist fix`.

IPython's custom exception hook sees the exception; a pre_run_cell event sees the raw cell
(the `In` history is not kept when a cell runs with store_history=False).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any


@dataclass
class CapturedError:
    ename: str
    evalue: str
    traceback: list[str]
    source: str
    execution_count: int | None  # its index in In / the raw input history, if stored

    def as_output(self) -> dict[str, Any]:
        """The nbformat error output the server's `fix` route reads."""
        return {"output_type": "error", "ename": self.ename, "evalue": self.evalue, "traceback": self.traceback}


class ExceptionRecorder:
    def __init__(self) -> None:
        self.last: CapturedError | None = None
        self._cell = ""
        self._shell: Any = None

    def install(self, shell: Any) -> None:
        self._shell = shell
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.set_custom_exc((Exception,), self._handler)

    def uninstall(self, shell: Any) -> None:
        try:
            shell.events.unregister("pre_run_cell", self._pre_run_cell)
        except ValueError:
            pass
        if getattr(shell, "custom_exceptions", ()) == (Exception,):
            shell.set_custom_exc((), None)

    def _pre_run_cell(self, info: Any) -> None:
        self._cell = getattr(info, "raw_cell", "") or ""

    def _history_index(self) -> int | None:
        # IPython stores a cell's input before running it: if stored, it is the last entry.
        hist = getattr(getattr(self._shell, "history_manager", None), "input_hist_raw", None) or []
        return len(hist) - 1 if hist and hist[-1] == self._cell.rstrip("\n") else None

    def _handler(self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        # Skip the first frame: it is IPython's own run_code, not the user's cell.
        lines = traceback.format_exception(etype, value, tb.tb_next or tb if tb else None)
        self.last = CapturedError(
            ename=etype.__name__,
            evalue=str(value),
            traceback=[ln.rstrip("\n") for ln in lines],
            source=self._cell,
            execution_count=self._history_index(),
        )
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)  # the user still sees it
