"""Model-based conformance: the address space as the man pages describe it, against the kernel.

- :mod:`helpers.model.space`: the model (plain Python): mappings, objects,
  copies on write, a forked child; one method per call, each predicting one
  outcome.
- :mod:`helpers.model.steps`: the calls as data that prints as Python.
- :mod:`helpers.model.actor`, :mod:`~helpers.model.zygote`,
  :mod:`~helpers.model.executor`: the step executor, one long-lived process
  per sequence, traced so that a fatal signal is an outcome.
- :mod:`helpers.model.session`: both sides step by step, compared after each.
- :mod:`helpers.model.machine`: the hypothesis state machine that drives it.
- :mod:`helpers.model.mutants`: wrong models that the machine must catch.
- :mod:`helpers.model.replay`: the program a disagreement prints.
- ``python -m helpers.model --bench``: steps per second of the executor.
"""
