"""A full disk is reported as such, with the warehouse's path, and what was committed stands."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.errors import DiskFull
from warehouse.records import Batch, Reject
from warehouse.session import open_warehouse, read_session
from warehouse.settings import WarehouseSettings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs the right to mount, as root in a container has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_reported_with_the_path(small_disk: Path) -> None:
    db = small_disk / "corpus.duckdb"
    settings = WarehouseSettings(db_path=db, lock_timeout_s=5)
    loaded = 0
    with pytest.raises(DiskFull) as full:
        with open_warehouse(settings, "r1") as session:
            session.begin_run("r1", "ingest-files", {})
            for n in range(100):  # about 1 MB per batch: the disk fills within a few
                rejects = [Reject(source_id=f"s{n}-{i}", locator=f"/in/{n}/{i}", stage="parse",
                                  content_hash=f"h{i}", reason="r", detail="d" * 10_000)
                           for i in range(100)]
                session.load_batch(Batch(batch_id=f"b{n}", run_id="r1", rejects=rejects))
                loaded += 1
    assert str(db) in str(full.value) and "disk full" in str(full.value)
    assert "rollback" not in str(full.value)
    assert loaded >= 1
    with read_session(db) as reads:  # every acknowledged batch is there, whole
        assert reads.table_counts()["load_batches"] == loaded
        assert reads.table_counts()["rejects"] == 100 * loaded
