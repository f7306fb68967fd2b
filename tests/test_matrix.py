"""Self-tests of the platform matrix: its merge, its selection, and two real variants.

The two-variant run makes a tmpfs scratch and a container-like set of
namespaces for one module of checks, so it needs root; elsewhere it is
skipped with the reason.  It checks what a user of ``tox -e matrix`` relies
on: one report whose platforms are the variants, each with the facts that
make it one, and nothing left mounted or created afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.matrix import merge, workspace
from helpers.platform import privileged

ROOT = Path(__file__).resolve().parent.parent


def _raw(path: Path, key: str, scratch_fs: str) -> Path:
    records = [
        {"type": "run", "format": "mmapcheck-raw", "version": 1, "run_id": key,
         "catalogue_digest": "x", "command": ["pytest"], "started": "now"},
        {"type": "platform", "key": "gw0", "gateway": None,
         "fingerprint": {"scratch_fs": scratch_fs}},
        {"type": "check", "nodeid": "t::a", "platform": "gw0", "claims": [], "outcome": "passed"},
        {"type": "end", "finished": "later", "exitstatus": 0, "duration_s": 1.5,
         "counts": {"passed": 1}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"type": "che')
    return path


def test_merge_keeps_each_variant_apart(tmp_path):
    runs = [({"name": n, "description": n}, _raw(tmp_path / f"{n}.jsonl", n, fs))
            for n, fs in (("ext4", "ext4"), ("tmpfs", "tmpfs"))]
    counts = merge.merge(runs, tmp_path / "merged.jsonl", ["matrix"])
    records = [json.loads(line) for line in (tmp_path / "merged.jsonl").read_text().splitlines()]
    assert counts == {"passed": 2}
    assert [r["type"] for r in records] == ["run", "platform", "check", "platform", "check", "end"]
    assert [r["key"] for r in records if r["type"] == "platform"] == ["ext4/gw0", "tmpfs/gw0"]
    assert [r["platform"] for r in records if r["type"] == "check"] == ["ext4/gw0", "tmpfs/gw0"]
    assert records[3]["fingerprint"] == {"scratch_fs": "tmpfs",
                                         "variant": {"name": "tmpfs", "description": "tmpfs"}}
    assert records[-1]["duration_s"] == 3.0


def test_stale_workspace_of_a_dead_run_is_removed(tmp_path):
    dead = tmp_path / f"{workspace.PREFIX}999999999-abcdef"
    dead.mkdir()
    (dead / "state.json").write_text(json.dumps({"pid": 999999999, "mounts": [],
                                                 "hugepages": None}))
    alive = workspace.Workspace(str(tmp_path))
    try:
        assert workspace.clean_stale(str(tmp_path)) == [f"{dead}: undone"]
        assert not dead.exists() and alive.path.exists()
    finally:
        assert alive.close() == []
    assert not alive.path.exists()


def test_selection_runs_only_checks_that_can_depend_on_the_variant():
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/test_msync.py",
         "conformance/test_anonymous.py", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--mmapcheck-no-raw",
         "--mmapcheck-depends-on", "scratch"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    nodeids = [line for line in listed.stdout.splitlines() if "::" in line]
    kept = {n.split("::")[0] for n in nodeids}
    assert kept == {"conformance/test_msync.py", "conformance/test_anonymous.py"}, listed
    anonymous = [n for n in nodeids if n.startswith("conformance/test_anonymous.py")]
    assert 0 < len(anonymous) < 10, anonymous  # only its checks that map a file


def _mounted_workspaces() -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if workspace.PREFIX in line]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not privileged(), reason="the matrix's variants mount filesystems: this "
                    "self-test needs CAP_SYS_ADMIN in the initial user namespace (root)")
def test_two_variants_make_one_report_and_leave_nothing(tmp_path):
    out = tmp_path / "matrix"
    done = subprocess.run(
        [sys.executable, "-m", "helpers.matrix", "--variants", "tmpfs,container", "--out",
         str(out), "conformance/test_posix_shm.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    variants = {v["name"]: v for v in json.loads((out / "variants.json").read_text())}
    assert {n: v["status"] for n, v in variants.items()} == {"tmpfs": "ran", "container": "ran"}
    report = json.loads((out / "report.json").read_text())
    facts = {p["fingerprint"]["variant"]["name"]: p["fingerprint"] for p in report["platforms"]}
    assert set(facts) == {"tmpfs", "container"}
    assert facts["tmpfs"]["scratch_fs"] == "tmpfs" and not facts["tmpfs"]["in_container"]
    assert facts["container"]["in_container"] is True
    assert "size=65536k" in facts["container"]["locations"]["posix_shm"]["options"]
    assert (out / "matrix.html").read_text().count("<th title=") == 2
    assert _mounted_workspaces() == []
    assert not list(Path(workspace.tempfile.gettempdir()).glob(f"{workspace.PREFIX}*"))
