"""The one exception the report tools raise for bad input."""

from __future__ import annotations


class ReportError(Exception):
    """Input the report tools cannot use; the message is one line naming the file and the fix.

    The command line prints the message alone (no traceback), because the
    cause is the user's input (a missing run, a corrupt or foreign file, a
    newer format), not a bug of the tools.
    """
