"""SeenKeys: the first owner of a value wins, in memory and after spilling."""

from __future__ import annotations

import polars as pl
import pytest

from ceramic_app.imports import seen
from ceramic_app.settings import get_settings


@pytest.fixture
def spill_small(monkeypatch, tmp_path):
    monkeypatch.setattr(seen, "SPILL_ROWS", 3)
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    return tmp_path


def test_first_owner_wins_across_files_and_memory(spill_small):
    keys = seen.SeenKeys()
    keys.add(pl.Series([1, 2, 3, 4]), pl.Series([10, 20, 30, 40]))
    keys.add(pl.Series([2, 5]), pl.Series([99, 50]))
    keys.add(pl.Series([6, 1]), pl.Series([60, 77]))
    assert len(keys) == 8
    assert len(keys._files) == 2
    assert keys.owners(pl.Series([2, 5, 6, 7, 1])).to_list() == [20, 50, 60, None, 10]


def test_spill_folder_removed_with_the_keys(spill_small):
    keys = seen.SeenKeys()
    keys.add(pl.Series(range(5)), pl.Series(range(5)))
    folder = keys._files[0].parent
    assert folder.parent == spill_small / "tmp"
    assert folder.exists()
    del keys
    assert not folder.exists()


def test_nothing_seen_returns_nulls():
    keys = seen.SeenKeys()
    assert keys.owners(pl.Series([1, 2])).to_list() == [None, None]
