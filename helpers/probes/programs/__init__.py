"""The documents' complete programs, replayed call for call, one module per document.

Each program is a function ``program(stage) -> exit code`` making the
program's calls in its order, with its sizes, flags, names and missing
error checks, printing what it prints (``cout``/``printf`` lines on fd 1,
``perror`` lines on fd 2).  :mod:`helpers.probes.programs.stage` runs them
confined: a private working directory for the files they name, a private
``/dev/shm`` (or prefixed names) for their shm objects, and their sleeps
either as written or replaced by the hand-off each sleep stands for.
"""
