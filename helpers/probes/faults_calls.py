"""Evidence of one call inside a multi-step fault probe: ``"ok"`` or its errno name.

A fault probe often makes several calls whose failures are all the point
(the 4 MiB allocation fails, the 512 KiB one succeeds).  Letting the first
OSError end the probe would lose the rest, so each such call goes through
:func:`attempt`, which turns the result into the errno's name.  Any other
exception still ends the probe: it is a broken check, not evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helpers.libc import errno_name

OK = "ok"


def attempt(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Return ``"ok"`` if ``call(*args, **kwargs)`` returns, else the name of its errno."""
    try:
        call(*args, **kwargs)
    except OSError as exc:
        return errno_name(exc) or f"OSError without errno: {exc}"
    return OK


def attempt_value(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """Return ``("ok", result)`` or ``(errno name, None)`` for one call."""
    try:
        result = call(*args, **kwargs)
    except OSError as exc:
        return errno_name(exc) or f"OSError without errno: {exc}", None
    return OK, result
