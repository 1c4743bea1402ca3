"""The one atomic write every file of anovae goes through (anovae/_atomic.py)."""

import os
import stat

import pytest

from anovae._atomic import PublishError, TargetExistsError, atomic_write


def test_the_file_appears_whole_only_when_the_block_ends(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_without_replace_a_file_that_appeared_is_kept(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(TargetExistsError):
        with atomic_write(target, replace=False) as tmp:
            with open(tmp, "w") as handle:
                handle.write("mine")
            target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.txt") as tmp:
            open(tmp, "w").close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "out.txt").st_mode) == 0o644


def test_the_data_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    with atomic_write(tmp_path / "out.txt") as tmp:
        open(tmp, "w").close()
    assert events[:2] == ["fsync", "replace"]


def test_a_folder_that_does_not_exist_is_a_publish_error(tmp_path):
    with pytest.raises(PublishError) as caught:
        with atomic_write(tmp_path / "absent" / "out.txt"):
            pass
    assert caught.value.strerror and isinstance(caught.value, OSError)
