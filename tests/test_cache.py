"""The content-addressed cache: atomic writes, corruption detected and moved aside, nothing lost or silent."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import numpy as np
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


def test_keys_of_plain_parts_are_unchanged():
    # The canonical JSON of plain parts, as before tensors were hashed by content: models already trained
    # stay cached.
    import hashlib
    import json
    parts = {"model": {"width": 32, "epochs": 20}, "train": [1, 2.5, "adam", None, True], "code": "abc"}
    old = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
    assert cache.cache_key(parts) == old


def test_keys_hash_large_tensors_by_content():
    # str() of a tensor over 1,000 elements elides its middle: a change there must still change the key.
    x = torch.zeros(5000)
    y = x.clone()
    y[2500] = 1.0
    assert str(x) == str(y)  # what the old key saw
    assert cache.cache_key({"x": x}) != cache.cache_key({"x": y})
    assert cache.cache_key({"x": x}) == cache.cache_key({"x": x.clone()})
    # shape and dtype are part of the key, not just the bytes
    assert cache.cache_key({"x": torch.zeros(4, 2)}) != cache.cache_key({"x": torch.zeros(2, 4)})
    assert cache.cache_key({"x": torch.zeros(4, dtype=torch.int32)}) != \
        cache.cache_key({"x": torch.zeros(4, dtype=torch.float32)})
    a = np.zeros(5000)
    b = a.copy()
    b[2500] = 1.0
    assert cache.cache_key({"a": a}) != cache.cache_key({"a": b})
    assert cache.cache_key({"a": [a]}) == cache.cache_key({"a": [a.copy()]})
    assert cache.cache_key({"x": torch.ones(3, dtype=torch.bfloat16)})  # no numpy equivalent: still hashed


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty"])
def test_corrupt_entry_is_reported_moved_aside_and_rebuilt(damage):
    _, _, path = cache.cached("thing", {"a": 1}, lambda: {"w": torch.ones(100)})
    raw = path.read_bytes()
    damaged = {"truncate": raw[: len(raw) // 2], "flip": raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:],
               "header": b"garbage\n" + raw, "empty": b""}[damage]
    path.write_bytes(damaged)
    with pytest.raises(cache.CorruptCacheEntry):
        cache.load_entry(path)
    with pytest.warns(RuntimeWarning, match="corrupt.*moved aside to thing-.*corrupt-.*rebuilding"):
        value, hit, _ = cache.cached("thing", {"a": 1}, lambda: {"w": torch.zeros(100)})
    assert not hit and torch.equal(value["w"], torch.zeros(100))
    assert torch.equal(cache.load_entry(path)["w"], torch.zeros(100))
    aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].name.startswith(path.name + ".corrupt-")
    assert aside[0].read_bytes() == damaged  # kept for inspection, not deleted


def test_entry_that_torch_cannot_load_is_corrupt(tmp_path):
    # A valid checksum over bytes that are not a torch payload.
    import hashlib
    payload = b"not a pickle"
    path = tmp_path / "x.pt"
    path.write_bytes(cache._MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(cache.CorruptCacheEntry, match="checksum verifies but torch .* cannot load it"):
        cache.load_entry(path)


def test_unreadable_entry_is_reported_and_never_deleted_or_rebuilt(monkeypatch):
    _, _, path = cache.cached("thing", {"a": 1}, lambda: {"w": torch.ones(3)})
    before = path.read_bytes()
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    built = []
    with pytest.raises(PermissionError, match=r"may not read it.*left untouched.*chmod g\+r.*GANDENSITY_CACHE_DIR"):
        cache.cached("thing", {"a": 1}, lambda: built.append(1) or {"w": torch.zeros(3)})
    assert built == []  # nothing rebuilt over another user's entry
    monkeypatch.setattr(Path, "read_bytes", real)
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p != path and p.suffix != ".lock"]  # not moved aside either


def test_written_entries_are_group_readable(isolated_cache):
    old = os.umask(0o002)
    try:
        _, _, path = cache.cached("thing", {"a": 1}, lambda: {"w": torch.ones(3)})
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o664, oct(mode)  # 0o666 less the umask, not mkstemp's 0o600
    assert mode & stat.S_IRGRP


def test_written_entries_honour_a_strict_umask(tmp_path):
    old = os.umask(0o077)
    try:
        cache.save_entry(tmp_path / "private.pt", {"v": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.pt").stat().st_mode) == 0o600


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


def test_read_only_cache_keeps_the_computed_result(monkeypatch):
    def boom(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache.tempfile, "mkstemp", boom)
    with pytest.warns(RuntimeWarning, match=r"could not save.*returned but not cached.*GANDENSITY_CACHE_DIR "
                                            r"to a writable directory"):
        value, hit, path = cache.cached("thing", {"a": 1}, lambda: {"w": torch.full((3,), 7.0)})
    assert not hit and torch.equal(value["w"], torch.full((3,), 7.0)) and not path.exists()


def test_uncreatable_cache_directory_keeps_the_computed_result(monkeypatch):
    def boom(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", boom)
    with pytest.warns(RuntimeWarning, match=r"could not be created.*not cached.*GANDENSITY_CACHE_DIR"):
        value, hit, _ = cache.cached("thing", {"a": 1}, lambda: {"x": 5})
    assert value == {"x": 5} and not hit


def test_cache_dir_setting_is_expanded_and_validated(monkeypatch, tmp_path):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "")
    with pytest.raises(ValueError, match="GANDENSITY_CACHE_DIR is set but empty.*unset it"):
        cache.cache_dir()
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "   ")
    with pytest.raises(ValueError, match="GANDENSITY_CACHE_DIR is set but empty"):
        cache.cached("thing", {"a": 1}, lambda: {"x": 1})
    monkeypatch.setenv("MY_CACHE_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "$MY_CACHE_ROOT/gd")
    assert cache.cache_dir() == tmp_path / "root" / "gd" and (tmp_path / "root" / "gd").is_dir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "~/gdcache")
    assert cache.cache_dir() == tmp_path / "home" / "gdcache"
    monkeypatch.delenv("NOT_DEFINED_ANYWHERE", raising=False)
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "$NOT_DEFINED_ANYWHERE/x")
    with pytest.raises(ValueError, match=r"GANDENSITY_CACHE_DIR.*undefined environment variable.*NOT_DEFINED_ANYWHERE"):
        cache.cache_dir()
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", "relative/cache")
    with pytest.raises(ValueError, match="GANDENSITY_CACHE_DIR.*relative path.*absolute path"):
        cache.cache_dir()
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(ValueError, match="GANDENSITY_CACHE_DIR.*not a directory"):
        cache.cache_dir()


def test_numpy_payload_is_refused_at_save_before_anything_is_written(tmp_path):
    with pytest.raises(TypeError, match=r"payload\['stats'\]\[1\].*numpy.ndarray.*torch.from_numpy"):
        cache.save_entry(tmp_path / "np.pt", {"stats": [1.0, np.zeros(3)]})
    with pytest.raises(TypeError, match=r"payload\['n'\].*numpy.*float64"):
        cache.save_entry(tmp_path / "np.pt", {"n": np.float64(2.0)})
    assert not list(tmp_path.iterdir())


def test_any_payload_that_would_not_load_is_refused(tmp_path):
    from fractions import Fraction

    class Thing:
        pass

    with pytest.raises(TypeError, match="could not read it back.*store only tensors"):
        cache.save_entry(tmp_path / "x.pt", {"third": Fraction(1, 3)})  # pickles, but weights_only refuses it
    with pytest.raises(TypeError, match="torch.save failed.*store only tensors"):
        cache.save_entry(tmp_path / "x.pt", {"thing": Thing()})  # does not even pickle
    assert not list(tmp_path.iterdir())


def test_cached_adds_torch_threads_to_the_key():
    _, _, p1 = cache.cached("thing", {"a": 1}, lambda: {"x": 1})
    threads = torch.get_num_threads()
    assert p1.name == f"thing-{cache.cache_key({'a': 1, 'torch_threads': threads})[:24]}.pt"


def test_disabled_cache_always_builds(isolated_cache):
    value, hit, path = cache.cached("thing", {"a": 1}, lambda: {"x": 3}, enabled=False)
    assert value == {"x": 3} and not hit and not path.exists()


def test_no_warning_on_a_plain_hit():
    cache.cached("thing", {"a": 1}, lambda: {"x": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.cached("thing", {"a": 1}, lambda: {"x": 2})[0] == {"x": 1}


def _build_once(directory: str, marker: str) -> None:
    """Child process: ask for one entry whose build is slow and leaves a mark each time it runs."""
    import time as _time

    os.environ[cache.ENV] = directory

    def build() -> dict:
        with open(marker, "a") as f:
            f.write("built\n")
        _time.sleep(1.0)
        return {"value": torch.arange(3)}

    result, _, _ = cache.cached("locktest", {"k": 1}, build)
    assert torch.equal(result["value"], torch.arange(3))


def test_concurrent_requests_for_one_entry_build_it_once(tmp_path):
    # Two processes (two chapters, or two workers) asking for the same model at once: the second waits for
    # the first's build and loads it instead of training again.
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    marker = tmp_path / "builds.txt"
    procs = [ctx.Process(target=_build_once, args=(str(tmp_path / "cache"), str(marker))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert marker.read_text().count("built") == 1
