"""Probes: module-level verbs that run inside isolated children.

Each family of checks has a module here (``offsets``, ``eof``, ...).  A probe
returns JSON-able evidence or lets the call's error or signal end it; it
declares the mapping base with :func:`helpers.isolate.note` before touching
memory so fault offsets can be reported.
"""
