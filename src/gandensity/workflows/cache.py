"""A content-addressed on-disk cache for trained models and other expensive results.

An entry's key is the sha256 of its configuration, its data's fingerprint and the source code that
produced it, so chapters that ask for the same model share it, and a code change never serves a stale
result. Files are written atomically (temporary file + ``os.replace``) and carry the sha256 of their
payload, so a truncated or corrupted entry is detected, reported and rebuilt.

The cache lives in ``$GANDENSITY_CACHE_DIR``, else ``$XDG_CACHE_HOME/gandensity``, else ``~/.cache/gandensity``.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch

__all__ = ["CorruptCacheEntry", "cache_dir", "cache_key", "code_version", "generator_fingerprint", "tensor_fingerprint",
           "save_entry", "load_entry", "cached"]

_MAGIC = b"GANDENSITY-CACHE v1 "


class CorruptCacheEntry(RuntimeError):
    """A cache file whose header or checksum does not match its payload."""


def cache_dir() -> Path:
    """The cache directory (created if missing)."""
    root = os.environ.get("GANDENSITY_CACHE_DIR")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "gandensity")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def code_version(*modules: ModuleType) -> str:
    """sha256 (16 hex digits) of the given modules' source and torch's version: results depend on both."""
    h = hashlib.sha256(torch.__version__.encode())
    for module in modules:
        h.update(inspect.getsource(module).encode())
    return h.hexdigest()[:16]


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``parts`` (keys sorted; values must be JSON-serialisable)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def save_entry(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` (tensors, dicts, lists, numbers, strings) with a checksum header."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getvalue()
    header = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header + payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_entry(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> Any:
    """Read an entry written by :func:`save_entry`; raise :class:`CorruptCacheEntry` if it does not verify."""
    raw = Path(path).read_bytes()
    header, sep, payload = raw.partition(b"\n")
    if not sep or not header.startswith(_MAGIC):
        raise CorruptCacheEntry(f"{path}: not a gandensity cache file (bad header)")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(_MAGIC):]:
        raise CorruptCacheEntry(f"{path}: checksum mismatch (truncated or corrupted)")
    return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)


def cached(kind: str, parts: dict[str, Any], build: Callable[[], Any],
           *, enabled: bool = True) -> tuple[Any, bool, Path]:
    """Return ``build()``'s result from the cache, building and storing it if absent or corrupt.

    Args:
        kind: a readable prefix of the file name, e.g. ``"dcgan"``.
        parts: everything the result depends on (configuration, data fingerprint, code version).
        build: computes the result; it must return something :func:`save_entry` can store.
        enabled: ``False`` always rebuilds and does not write.

    Returns:
        ``(result, hit, path)``: ``hit`` is True when the result came from disk.
    """
    # Training is bitwise deterministic for a fixed number of torch threads, not across thread counts:
    # the count is part of what a result depends on.
    parts = {**parts, "torch_threads": torch.get_num_threads()}
    path = cache_dir() / f"{kind}-{cache_key(parts)[:24]}.pt"
    if enabled and path.exists():
        try:
            return load_entry(path), True, path
        except Exception as err:  # corrupt, truncated, or unreadable by this torch: rebuild
            warnings.warn(f"cache entry {path} is unusable ({err}); rebuilding it", RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
    result = build()
    if enabled:
        save_entry(path, result)
    return result, False, path


def generator_fingerprint(generator: torch.nn.Module) -> str:
    """sha256 (hex) of a network's configuration and state (weights and batch-norm statistics)."""
    h = hashlib.sha256(repr(getattr(generator, "config", type(generator).__name__)).encode())
    for name, value in generator.state_dict().items():
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def tensor_fingerprint(x: torch.Tensor) -> str:
    """sha256 (hex) of a tensor's shape, dtype and bytes."""
    h = hashlib.sha256(f"{tuple(x.shape)} {x.dtype}".encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
