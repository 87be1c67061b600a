"""Compile ``_speedups.c`` next to this file: ``python connector/ami/build.py``.

Uses the compiler (``CC`` overrides it) and flags this Python was built with (``sysconfig``), so
no build tool is needed beyond a C compiler and the Python headers. The
result is ``_speedups`` plus this interpreter's extension suffix. Nothing is
rebuilt when the library is newer than the source.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_speedups.c"


def target() -> Path:
    """Where the built module goes (``_speedups.cpython-311-x86_64-linux-gnu.so`` and the like)."""
    return HERE / ("_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))


def command(output: Path) -> list[str]:
    """The compile-and-link command line."""
    config = sysconfig.get_config_var
    compiler = shlex.split(os.environ.get("CC") or config("CC") or "cc")
    flags = shlex.split(config("CFLAGS") or "") + shlex.split(config("CCSHARED") or "")
    link = shlex.split(config("LDSHARED") or "")[1:]  # LDSHARED is "<compiler> -shared ..."
    include = sysconfig.get_paths()["include"]
    return [*compiler, *flags, "-Wall", f"-I{include}", *link, str(SOURCE), "-o", str(output)]


def build(force: bool = False) -> tuple[Path, bool]:
    """Compile if the source is newer than the module; the module's path and whether it was compiled."""
    output = target()
    if not force and output.exists() and output.stat().st_mtime >= SOURCE.stat().st_mtime:
        return output, False
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        raise RuntimeError(f"no Python.h under {sysconfig.get_paths()['include']}: install the Python headers")
    partial = output.with_suffix(".part")
    try:
        subprocess.run(command(partial), check=True)
        partial.replace(output)  # a running process keeps the old file it loaded
    finally:
        partial.unlink(missing_ok=True)
    return output, True


if __name__ == "__main__":
    try:
        path, compiled = build(force="--force" in sys.argv)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"build.py: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"{'built' if compiled else 'up to date:'} {path}")
