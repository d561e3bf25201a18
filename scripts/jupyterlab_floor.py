"""The oldest JupyterLab a wheel allows, and whether that JupyterLab provides what the
labextension was built against. Used by scripts/check_dist.sh.

    python scripts/jupyterlab_floor.py floor WHEEL
        prints the lowest version the wheel's `jupyterlab` requirement admits
    FLOOR_VENV/bin/python scripts/jupyterlab_floor.py provides EXTENSION_DIR
        exits 1 unless every @jupyterlab/* package the extension depends on is, in the
        running JupyterLab, at a version inside the extension's range

`jupyter labextension list` only asks that the ranges overlap (JupyterLab 4.6.0's "~4.6.0"
overlaps "^4.6.4"), so it cannot tell a floor set below the versions the extension was
built against; the second check can.
"""

from __future__ import annotations

import json
import sys
import zipfile
from email.parser import Parser
from pathlib import Path


def floor(wheel: str) -> str:
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode())
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.name == "jupyterlab" and req.marker is None:
            lows = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
            if lows:
                return lows[0]
            raise SystemExit(f"the jupyterlab requirement has no floor: {line}")
    raise SystemExit("the wheel does not require jupyterlab")


def provides(extension_dir: str) -> int:
    import jupyterlab
    from jupyter_builder.jupyterlab_semver import Range, satisfies

    core = json.loads((Path(jupyterlab.__file__).parent / "staging" / "package.json").read_text())
    wanted = json.loads((Path(extension_dir) / "package.json").read_text())["dependencies"]
    bad = []
    for pkg, needed in sorted(wanted.items()):
        if not pkg.startswith("@jupyterlab/") or pkg not in core["resolutions"]:
            continue
        # The core pins its own packages as "~X.Y.Z": X.Y.Z is the version it ships.
        shipped = Range(core["resolutions"][pkg], True).set[0][0].semver.version
        if not satisfies(shipped, needed):
            bad.append(f"{pkg} {shipped} (the extension needs {needed})")
    if bad:
        print(f"JupyterLab {jupyterlab.__version__} ships older packages than the extension was built against:")
        print("\n".join(f"  {b}" for b in bad))
        return 1
    print(f"JupyterLab {jupyterlab.__version__} provides every @jupyterlab/* version the extension needs")
    return 0


if __name__ == "__main__":
    cmd, arg = sys.argv[1:3]
    if cmd == "floor":
        print(floor(arg))
    elif cmd == "provides":
        sys.exit(provides(arg))
    else:
        raise SystemExit(f"unknown command {cmd}")
