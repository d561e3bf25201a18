"""`%%assist <instruction>` with nothing below it runs as `%assist <instruction>`.

IPython refuses a cell magic whose body is empty with a UsageError ("the cell body is
empty") before the magic runs, yet an instruction alone on the `%%assist` line is the
natural way to ask (the README's example). A cleanup input transformer, applied before
IPython looks for cell magics, turns such a cell into the equivalent line magic.
"""

from __future__ import annotations

PREFIX = "%%assist"


def empty_body_as_line_magic(lines: list[str]) -> list[str]:
    """`["%%assist plot x\\n"]` (only blank lines after it) -> `["%assist plot x\\n"]`."""
    if not lines or not lines[0].startswith(PREFIX):
        return lines
    rest = lines[0][len(PREFIX) :]
    if rest[:1] not in ("", " ", "\t", "\n", "\r") or any(line.strip() for line in lines[1:]):
        return lines  # another magic (%%assistant) or a real body: IPython's usual path
    return ["%assist" + rest.rstrip("\r\n") + "\n"]


def install(ipython: object) -> None:
    transforms = getattr(ipython, "input_transformers_cleanup", None)
    if transforms is not None and empty_body_as_line_magic not in transforms:
        transforms.append(empty_body_as_line_magic)


def uninstall(ipython: object) -> None:
    transforms = getattr(ipython, "input_transformers_cleanup", None)
    if transforms is not None and empty_body_as_line_magic in transforms:
        transforms.remove(empty_body_as_line_magic)
