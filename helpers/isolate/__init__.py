"""Run a probe in an isolated child process and return what happened.

``run(target, *args, timeout=5.0, rlimits=None, **kwargs) -> Outcome``

``target`` is a module-level function or a ``"package.module:function"``
string; ``args`` and ``kwargs`` go to it (they are pickled, so they must be
picklable; ``timeout`` and ``rlimits`` are the runner's own and cannot be
passed to a target).  The probe runs in a child forked from a per-process
fork server: if it faults, only the child dies and the outcome names the
signal, its ``si_code`` and the faulting offset; if it hangs, it is killed at
``timeout`` seconds.  ``rlimits`` maps ``"RLIMIT_AS"``-style names to
``(soft, hard)`` pairs applied in the child only; a limit the child may not
set, and any step a probe raises :class:`SetupRefused` for, ends as a raised
``SetupRefused`` naming the errno (``Outcome.setup_refused``), never as the
result of the call under test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Only what a probe child needs is imported eagerly: the fork server imports
# this package too, and every module it holds makes each fork slower.
from helpers.isolate.child import SetupRefused, in_child, note

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from helpers.isolate.client import IsolationMisuse, shutdown
    from helpers.isolate.outcome import Outcome, OutcomeKind

__all__ = ["IsolationMisuse", "Outcome", "OutcomeKind", "SetupRefused", "in_child", "note", "run",
           "shutdown"]

_LAZY = {"Outcome": "outcome", "OutcomeKind": "outcome", "IsolationMisuse": "client",
         "shutdown": "client"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"helpers.isolate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'helpers.isolate' has no attribute {name!r}")


def run(target: Callable[..., Any] | str, *args: Any, timeout: float = 5.0,
        rlimits: Mapping[str, tuple[int, int]] | None = None, **kwargs: Any) -> Outcome:
    """Return the outcome of ``target(*args, **kwargs)`` run in an isolated child."""
    from helpers.isolate.client import IsolationMisuse, default_server, target_name

    if not timeout > 0:
        raise IsolationMisuse(f"timeout must be a positive number of seconds, got {timeout!r}")
    for name in rlimits or {}:
        if not name.startswith("RLIMIT_"):
            raise IsolationMisuse(f"rlimits keys are names like 'RLIMIT_AS', got {name!r}")
    return default_server().call(target_name(target), args, kwargs,
                                 timeout=timeout, rlimits=rlimits or {})
