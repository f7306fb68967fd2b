"""What runs inside a probe's child process, between fork and ``_exit``.

The child is made safe to crash: its own process group (so a timeout kills
its descendants too), no core dump, no faulthandler, default dispositions for
the signals a probe may die of, and ptrace by the server so the server can
read the fault's ``siginfo``.  The target's result, and any notes it makes on
the way, go to the server as JSON lines over a pipe; the last line is the
result, so notes made before a fatal fault still arrive.
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import signal
import sys
from typing import TYPE_CHECKING, Any

from helpers.isolate import siginfo

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_result_fd: int | None = None

_RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}
#: Exit status of a child whose harness broke (EX_SOFTWARE); its reason goes over the pipe.
HARNESS_FAILED = 70


class SetupRefused(Exception):
    """A step a probe needs before the call under test was refused here.

    Becoming another user inside a user namespace that maps no other uid,
    raising a limit above a hard limit this run may not raise: the platform
    said nothing yet about the call the check is about, so the check ends as
    ``unsupported`` with this message (which names the errno), and the
    refusal is never observed as that call's result.  Raise it from a probe
    with the step and the errno name in the message.
    """

    def as_value(self) -> str:
        """Return the refusal as a field value (``"SetupRefused: <why>"``) for one step of many.

        A probe that runs several steps, of which only one needs the refused
        setup, returns this in that step's field; ``helpers.observe.field``
        makes the case unobservable with the reason, and the other steps
        are still observed.
        """
        return f"{type(self).__name__}: {self}"


def in_child() -> bool:
    """Return whether this process is an isolated probe child."""
    return _result_fd is not None


def note(**values: Any) -> None:
    """Send evidence to the server now, so it survives if the probe dies next.

    ``base=<address>`` declares the mapping that fault offsets are measured
    from.  Outside an isolated child this does nothing, so probes can also be
    called directly.
    """
    if _result_fd is not None:
        _send({"note": values})


def _send(message: Mapping[str, Any]) -> None:
    assert _result_fd is not None
    data = (json.dumps(message, default=repr) + "\n").encode()
    while data:
        data = data[os.write(_result_fd, data):]


#: Signals a probe may die of or that Python would otherwise handle itself.
RESET_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT", "SIGTERM", "SIGINT",
                 "SIGPIPE", "SIGXFSZ")


def prepare_server() -> int:
    """Do, once in the server, the set-up every child inherits; return a /dev/null fd.

    Doing it here rather than after each fork keeps the child's first writes
    (each a copy-on-write page fault) to a minimum: that is most of a probe's
    fixed cost.
    """
    faulthandler.disable()
    for name in RESET_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return os.open(os.devnull, os.O_RDWR)


def set_rlimit(name: str, soft: int, hard: int) -> None:
    """Set resource limit ``name`` (``"RLIMIT_MEMLOCK"``) of this process; raise SetupRefused.

    A hard limit above the current one needs ``CAP_SYS_RESOURCE`` (``EPERM``
    without it, as under ``ulimit -Hl 0`` or in a container that dropped
    it); a soft limit above the hard one is ``EINVAL``.  Either way the
    limit a probe depends on is not in force, which is the run's setup, not
    a result of the call under test.
    """
    try:
        # prlimit, unlike setrlimit, keeps the errno (setrlimit turns EPERM into ValueError).
        resource.prlimit(0, _RLIMITS[name], (soft, hard))
    except (OSError, ValueError) as exc:
        from helpers.libc import errno_name

        err = errno_name(exc) if isinstance(exc, OSError) else "EINVAL"
        current = resource.getrlimit(_RLIMITS[name])
        hint = (" (raising a hard limit needs CAP_SYS_RESOURCE)"
                if err == "EPERM" and hard > current[1] else "")
        raise SetupRefused(f"cannot set {name} to {(soft, hard)} (it is {current}): "
                           f"prlimit failed with {err}{hint}") from exc


def _prepare(result_fd: int, devnull: int, rlimits: Mapping[str, tuple[int, int]],
             ptrace: Callable[..., int] | None) -> None:
    global _result_fd
    _result_fd = result_fd
    os.setpgid(0, 0)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for name, (soft, hard) in rlimits.items():
        set_rlimit(name, soft, hard)
    if ptrace is not None:
        # Let the server see our fault signals first; if refused, the server
        # simply never sees a stop and reports si_code as unknown.
        ptrace(siginfo.PTRACE_TRACEME, 0, None, None)


def main(
    result_fd: int,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    rlimits: Mapping[str, tuple[int, int]],
    devnull: int,
    ptrace: Callable[..., int] | None,
) -> None:
    """Run ``func`` in this freshly forked child and ``_exit``; never returns."""
    code = 0
    try:
        try:
            _prepare(result_fd, devnull, rlimits, ptrace)
        except SetupRefused as exc:
            _send({"result": {"kind": "raised", "exception": type(exc).__name__,
                              "message": str(exc)}})
            return
        try:
            value = func(*args, **kwargs)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except OSError as exc:
            from helpers.libc import errno_name

            _send({"result": {"kind": "raised", "errno": errno_name(exc),
                              "exception": type(exc).__name__, "message": str(exc)}})
        except BaseException as exc:
            import traceback

            _send({"result": {"kind": "raised", "exception": type(exc).__name__,
                              "message": str(exc),
                              "traceback": "".join(traceback.format_exc(limit=8))}})
        else:
            try:
                line = json.dumps({"result": {"kind": "returned", "value": value}})
            except (TypeError, ValueError) as exc:
                _send({"result": {"kind": "error",
                                  "message": f"target returned a value that is not JSON: {exc}"}})
            else:
                _send(json.loads(line))
    except BaseException as exc:
        code = HARNESS_FAILED  # the server reports it as an error, with this reason
        try:
            import traceback

            sys.stderr.write(traceback.format_exc())
            if _result_fd is not None:
                _send({"harness": f"{type(exc).__name__}: {exc}"})
        except BaseException:
            pass
    finally:
        os._exit(code)
