"""The content-addressed cache: atomic writes, corruption detected and rebuilt, keys that separate."""

from __future__ import annotations

import os

import pytest
import torch

from gandensity.workflows import cache


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_round_trip_and_hit():
    calls = []

    def build():
        calls.append(1)
        return {"w": torch.arange(5.0), "history": [1.0, 2.0]}

    first, hit1, path = cache.cached("thing", {"a": 1}, build)
    second, hit2, path2 = cache.cached("thing", {"a": 1}, build)
    assert (hit1, hit2) == (False, True) and path == path2 and len(calls) == 1
    assert torch.equal(second["w"], first["w"]) and second["history"] == [1.0, 2.0]


def test_keys_separate_configurations():
    assert cache.cache_key({"a": 1, "b": 2}) == cache.cache_key({"b": 2, "a": 1})
    assert cache.cache_key({"a": 1}) != cache.cache_key({"a": 2})
    _, _, p1 = cache.cached("thing", {"a": 1}, lambda: {"x": 1})
    _, _, p2 = cache.cached("thing", {"a": 2}, lambda: {"x": 2})
    assert p1 != p2


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty"])
def test_corrupt_entry_is_reported_and_rebuilt(damage):
    _, _, path = cache.cached("thing", {"a": 1}, lambda: {"w": torch.ones(100)})
    raw = path.read_bytes()
    damaged = {"truncate": raw[: len(raw) // 2], "flip": raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:],
               "header": b"garbage\n" + raw, "empty": b""}[damage]
    path.write_bytes(damaged)
    with pytest.raises(cache.CorruptCacheEntry):
        cache.load_entry(path)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        value, hit, _ = cache.cached("thing", {"a": 1}, lambda: {"w": torch.zeros(100)})
    assert not hit and torch.equal(value["w"], torch.zeros(100))
    assert torch.equal(cache.load_entry(path)["w"], torch.zeros(100))


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "entry.pt"
    cache.save_entry(target, {"v": 1})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cache.save_entry(target, {"v": 2})
    assert cache.load_entry(target) == {"v": 1}  # the old entry survives intact
    assert [p.name for p in tmp_path.iterdir()] == ["entry.pt"]  # and no temporary file is left


def test_disabled_cache_always_builds(isolated_cache):
    value, hit, path = cache.cached("thing", {"a": 1}, lambda: {"x": 3}, enabled=False)
    assert value == {"x": 3} and not hit and not path.exists()
