"""The platform matrix: the claim checks once per platform variant this machine can offer.

``tox -e matrix`` (``python -m helpers.matrix``) makes each variant for the
length of its run (the scratch directory on a loop-mounted ext4, xfs or
btrfs, a tmpfs, a container-like set of namespaces with a small /dev/shm,
huge pages reserved), runs there the checks whose outcome can depend on it
(:mod:`fixtures.depends`), undoes everything it made, and merges the raw
results into one report whose platforms are the variants.

- :mod:`helpers.matrix.workspace`: what a run made (mounts, images, the huge
  page reservation), undone at the end, on a signal, or by the next run
  when this one was killed outright.
- :mod:`helpers.matrix.variants`: the variants, what each needs, how each is made.
- :mod:`helpers.matrix.merge`: one raw results file out of the variants' files.
- :mod:`helpers.matrix.__main__`: the command.
"""
