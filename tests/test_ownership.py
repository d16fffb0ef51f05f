"""Ownership, not names: what a sweep may remove is what a proof says a writer provably gone made."""

import json
import os
import subprocess

from common.ownership import OWNER_SUFFIX, claim, owned_name, proof, sweep, this_writer, writer_state


def ended_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def rewrite_writer(entry: str, **changes) -> None:
    path = entry + OWNER_SUFFIX
    record = json.load(open(path))
    record["writer"].update(changes)
    with open(path, "w") as f:
        json.dump(record, f)


def test_a_writer_is_gone_only_when_provably_so():
    here = this_writer()
    assert writer_state(here) == "alive"
    assert writer_state({**here, "pid": ended_pid()}) == "gone"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:  # a pid running another process than the one that wrote: the writer is gone
        assert writer_state({**here, "pid": sleeper.pid, "start": 1}) == "gone"
        from common.ownership import process_start

        assert writer_state({**here, "pid": sleeper.pid, "start": process_start(sleeper.pid)}) == "alive"
    finally:
        sleeper.kill()
        sleeper.wait()
    # Another pid namespace (another container on a shared volume), host or boot: never provable.
    assert writer_state({**here, "pid": ended_pid(), "pid_namespace": "pid:[1]"}) == "unknown"
    assert writer_state({**here, "pid": ended_pid(), "host": "another-host"}) == "unknown"
    assert writer_state({**here, "pid": ended_pid(), "boot": "another-boot"}) == "unknown"
    assert writer_state({}) == "unknown"


def test_the_sweep_spares_a_live_writer_in_another_pid_namespace(tmp_path):
    """A make_dataset.py building in another container: its pid means nothing here. Its build folder
    survives a sweep from this namespace, and is named."""
    build = owned_name(str(tmp_path / "data"), "build", hidden=True)
    claim(build, "build")
    os.makedirs(build)
    (tmp_path / os.path.basename(build) / "pointcloud.npz").write_text("being written")
    rewrite_writer(build, pid=ended_pid(), pid_namespace="pid:[4026532999]")
    done = sweep(str(tmp_path))
    assert os.path.exists(os.path.join(build, "pointcloud.npz"))
    assert "cannot be checked from here" in done[-1]
    rewrite_writer(build, pid_namespace=this_writer()["pid_namespace"])  # the same namespace, the pid ended
    done = sweep(str(tmp_path))
    assert not os.path.exists(build) and not os.path.exists(build + OWNER_SUFFIX) and done[0].startswith("removed")


def test_a_proof_names_its_own_entry_and_nothing_else(tmp_path):
    entry = str(tmp_path / "x.sv3d-tmp-1-deadbeef")
    claim(entry, "tmp")
    assert proof(entry)["kind"] == "tmp"
    os.rename(entry + OWNER_SUFFIX, str(tmp_path / "y.sv3d-tmp-1-deadbeef") + OWNER_SUFFIX)  # another entry's name
    assert proof(str(tmp_path / "y.sv3d-tmp-1-deadbeef")) is None
    (tmp_path / "z.sv3d-tmp-1-deadbeef.sv3d-owner").write_text("not json")
    assert proof(str(tmp_path / "z.sv3d-tmp-1-deadbeef")) is None
