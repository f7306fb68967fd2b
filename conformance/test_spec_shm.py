"""POSIX assertions on ``shm_open`` and ``shm_unlink`` (Open POSIX assertions.xml), one probe each.

glibc reports a name too long for its buffer as EINVAL (shm_open) and
ENOENT (shm_unlink) where POSIX names ENAMETOOLONG; shm_open(3) lists those
errors, so the checks assert them and the report shows the difference.
"""

from __future__ import annotations

import pytest

from helpers.probes import spec_shm as p
from helpers.probes.spec_rows import Row, Shm, check, params

ROWS = [
    Row("spec.shm-open-connects", "same-object", p.same_object, (Shm(),), True, "field",
        "same"),
    Row("spec.shm-open-lowest-descriptor", "lowest-free", p.lowest_descriptor, (Shm(),), True,
        "field", "lowest"),
    Row("spec.shm-open-new-description", "own-offset", p.new_description, (Shm(),), True,
        "field", "own_description"),
    Row("spec.shm-open-cloexec", "cloexec-set", p.close_on_exec, (Shm(),), True, "field",
        "cloexec"),
    Row("spec.shm-open-access-modes", "rdonly-read", p.access_mode, (Shm(), "O_RDONLY", "read"),
        "ok", "field", "result"),
    Row("spec.shm-open-access-modes", "rdonly-write", p.access_mode,
        (Shm(), "O_RDONLY", "write"), "EBADF", "field", "result"),
    Row("spec.shm-open-access-modes", "rdwr-write", p.access_mode, (Shm(), "O_RDWR", "write"),
        "ok", "field", "result"),
    Row("spec.shm-open-creates", "size-zero", p.created, (Shm(), 0o666, 0o027), 0, "field",
        "size"),
    Row("spec.shm-open-creates", "owner-is-euid", p.created, (Shm(), 0o666, 0o027), True,
        "field", "uid"),
    Row("spec.shm-open-creates", "group-is-egid", p.created, (Shm(), 0o666, 0o027), True,
        "field", "gid"),
    Row("spec.shm-open-creates", "mode-less-umask", p.created, (Shm(), 0o666, 0o027), "0o640",
        "field", "mode"),
    Row("spec.shm-open-creates", "mode-not-access", p.created, (Shm(), 0o000, 0o027), "ok",
        "field", "writable"),
    Row("spec.shm-open-exclusive-atomic", "one-creator", p.exclusive_race, (Shm(), 6), 1,
        "field", "creators"),
    Row("spec.shm-open-truncate", "size-zero", p.truncate_existing, (Shm(),), 0, "field",
        "size"),
    Row("spec.shm-open-truncate", "mode-owner-kept", p.truncate_existing, (Shm(),), True,
        "field", "kept"),
    Row("spec.shm-open-persists", "data-kept", p.persists, (Shm(),), True, "field",
        "persists"),
    Row("spec.shm-open-failure", "failure-sets-errno", p.open_result, (Shm(), "O_RDWR"),
        "ENOENT", "field", "shm_open"),
    Row("spec.shm-open-eacces", "permission-denied", p.denied, (Shm(), 0o600, "O_RDWR"),
        "EACCES", "field", "shm_open"),
    Row("spec.shm-open-eacces", "truncate-denied", p.denied,
        (Shm(), 0o644, "O_RDONLY|O_TRUNC"), "EACCES", "field", "shm_open"),
    Row("spec.shm-open-eacces-create", "create-denied", p.create_in_private_dev_shm,
        (Shm(), "size=65536,mode=0555"), "EACCES", "field", "shm_open"),
    Row("spec.shm-open-enospc", "no-room", p.create_in_private_dev_shm,
        (Shm(), "size=65536,nr_inodes=1,mode=1777"), "ENOSPC", "field", "shm_open"),
    Row("spec.shm-open-enametoolong", "name-256", p.long_name, (Shm(), 256, "shm_open"),
        "ENAMETOOLONG", "field", "result"),
    Row("spec.shm-open-enametoolong", "name-300", p.long_name, (Shm(), 300, "shm_open"),
        "EINVAL", "field", "result"),
    Row("spec.shm-unlink-removes-name", "unlink-while-open", p.unlink_while_open, (Shm(),),
        "ok", "field", "shm_unlink"),
    Row("spec.shm-unlink-removes-name", "name-gone", p.unlink_while_open, (Shm(),), "ENOENT",
        "field", "reopen"),
    Row("spec.shm-unlink-recreate", "new-object", p.recreate_after_unlink, (Shm(),), True,
        "field", "new_object"),
    Row("spec.shm-unlink-return-value", "success", p.unlink_twice, (Shm(),), "ok", "field",
        "first"),
    Row("spec.shm-unlink-return-value", "missing-name", p.unlink_twice, (Shm(),), "ENOENT",
        "field", "second"),
    Row("spec.shm-unlink-eacces", "permission-denied", p.unlink_denied, (Shm(),), "EACCES",
        "field", "shm_unlink"),
    Row("spec.shm-unlink-eacces", "object-unchanged", p.unlink_denied, (Shm(),), True,
        "field", "intact"),
    Row("spec.shm-unlink-enametoolong", "name-256", p.long_name, (Shm(), 256, "shm_unlink"),
        "ENAMETOOLONG", "field", "result"),
    Row("spec.shm-unlink-enametoolong", "name-300", p.long_name, (Shm(), 300, "shm_unlink"),
        "ENOENT", "field", "result"),
]


@pytest.mark.parametrize("row", params(ROWS))
def test_shm_assertion(probe, prediction, sized_file, shm_name, row):
    check(row, probe, prediction, sized_file, shm_name)
