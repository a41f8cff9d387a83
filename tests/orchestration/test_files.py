"""The one atomic writer (orchestration/files.py): whole or not at all, and swept when killed."""

import stat

import duckdb
import pytest

from orchestration.files import replaced_atomically, sweep_temporaries, write_atomically


def test_a_block_that_fails_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    target = tmp_path / "marts" / "fct_invoices.parquet"
    write_atomically(target, b"old")
    with pytest.raises(RuntimeError), replaced_atomically(target) as temporary:
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("the writer died")
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in target.parent.iterdir()) == ["fct_invoices.parquet"]


def test_whatever_writes_the_temporary_file_publishes_it_whole(tmp_path) -> None:
    target = tmp_path / "marts" / "numbers.parquet"  # the folder does not exist yet
    with replaced_atomically(target) as temporary, duckdb.connect() as conn:
        assert temporary.parent == target.parent and temporary.name.startswith(".")
        conn.execute(f"copy (select range as n from range(3)) to '{temporary}' (format parquet)")
        assert not target.exists()  # not before the block is done
    with duckdb.connect() as conn:
        assert conn.execute(f"select sum(n) from '{target}'").fetchone() == (3,)


def test_mode_and_the_sweep_of_what_a_killed_writer_left(tmp_path) -> None:
    target = tmp_path / "ledger.beancount"
    write_atomically(target, b"2026-01-01 open Assets:Bank\n", mode=0o640)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    with pytest.raises(KeyboardInterrupt), replaced_atomically(target) as temporary:
        temporary.write_bytes(b"")
        raise KeyboardInterrupt  # not an Exception: Ctrl-C cleans up too
    assert not temporary.exists()
    # A SIGKILL cleans up nothing: the next run's sweep does.
    (tmp_path / f".{target.name}.1234-deadbeef.tmp").write_bytes(b"killed mid-write")
    assert sweep_temporaries(tmp_path) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["ledger.beancount"]
