"""Names for signals and ``si_code`` values, and reading ``siginfo`` by ptrace.

The fork server traces its children (``PTRACE_TRACEME`` in the child) so
that, when a probe faults, it can read the ``siginfo`` the kernel built for
the fault (``PTRACE_GETSIGINFO``) before letting the signal kill the child.
That is the only way to learn ``si_code`` and the faulting address of a child
that dies by a synchronous signal without running code inside the signal
handler.  Where ptrace is refused (seccomp, Yama scope 3) the values are None.
"""

from __future__ import annotations

import ctypes
import signal

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_GETSIGINFO = 0x4202

#: Synchronous fault signals whose siginfo carries a faulting address.
FAULT_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})

_CODES: dict[int, dict[int, str]] = {
    signal.SIGSEGV: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR",
                     5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR", 8: "SEGV_MTEAERR",
                     9: "SEGV_MTESERR", 10: "SEGV_CPERR"},
    signal.SIGBUS: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR",
                    5: "BUS_MCEERR_AO"},
    signal.SIGILL: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP",
                    5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
    signal.SIGFPE: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF",
                    5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
}
_GENERIC_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
                  -3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}


def signal_name(signum: int) -> str:
    """Return ``"SIGBUS"`` for the number of SIGBUS (``"SIG?<n>"`` if unknown)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIG?{signum}"


def si_code_name(signum: int, code: int) -> str:
    """Return the symbolic name of ``si_code`` for a signal (``BUS_ADRERR``)."""
    if code in _GENERIC_CODES and (code <= 0 or code == 0x80):
        return _GENERIC_CODES[code]
    return _CODES.get(signum, {}).get(code, f"{signal_name(signum)}_CODE?{code}")


class _Siginfo(ctypes.Structure):
    # The common head of siginfo_t; the fault address is the first member of
    # the union, which starts at the first pointer-aligned offset after three ints.
    _fields_ = [("si_signo", ctypes.c_int), ("si_errno", ctypes.c_int),
                ("si_code", ctypes.c_int)]
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        _fields_.append(("_pad", ctypes.c_int))
    _fields_ += [("si_addr", ctypes.c_void_p), ("_rest", ctypes.c_byte * 112)]


def read_siginfo(ptrace: ctypes._CFuncPtr, pid: int) -> tuple[int, int, int | None] | None:
    """Return ``(signo, si_code, si_addr)`` of a ptrace-stopped child, or None."""
    info = _Siginfo()
    if ptrace(PTRACE_GETSIGINFO, pid, None, ctypes.byref(info)) != 0:
        return None
    addr = info.si_addr if info.si_signo in FAULT_SIGNALS else None
    return info.si_signo, info.si_code, addr
