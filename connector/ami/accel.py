"""The compiled AMI helpers (``_speedups.c``), or None where they are not built.

``bin/build-speedups`` compiles them; without a C compiler everything runs on
the pure Python code, which gives the same messages (the tests compare the
two). ``AMI_PURE_PYTHON=1`` in the environment ignores a built module.

``frame`` and ``fold_get`` are looked up here on each use, so
:func:`set_enabled` switches between the two at run time (the benchmark and
the tests do); it also sends the compiled ``MessageBase.get`` to the Python
code. ``MessageBase`` itself is fixed at import.
"""

from __future__ import annotations

import os

try:
    if os.environ.get("AMI_PURE_PYTHON", "") not in ("", "0"):
        raise ImportError("AMI_PURE_PYTHON is set")
    from connector.ami import _speedups
except ImportError:
    _speedups = None

BUILT = _speedups is not None

if _speedups is not None:
    MessageBase = _speedups.MessageBase
else:

    class MessageBase:
        """The storage of a message (the compiled module has the same fields)."""

        __slots__ = ("_raw", "_headers", "_repeated", "_body", "banner", "_lowered", "_folded")


frame = _speedups.frame if _speedups is not None else None
fold_get = _speedups.fold_get if _speedups is not None else None


def set_enabled(enabled: bool) -> bool:
    """Use the compiled framer (if built) or the pure Python one; returns whether it was in use."""
    global frame, fold_get
    was = frame is not None
    compiled = _speedups is not None and enabled
    frame = _speedups.frame if compiled else None
    fold_get = _speedups.fold_get if compiled else None
    if _speedups is not None:
        _speedups.set_enabled(compiled)
    return was
