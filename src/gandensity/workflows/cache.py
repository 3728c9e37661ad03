"""A content-addressed on-disk cache for trained models and other expensive results.

An entry's key is the sha256 of its configuration, its data's fingerprint and the source code that
produced it, so chapters that ask for the same model share it, and a code change never serves a stale
result. Tensors (and numpy arrays) among the key's parts are hashed by their bytes, shape and dtype, whatever
their size. Files are written atomically (temporary file + ``os.replace``), readable by whoever the umask lets
read new files (a shared cache serves the whole group), and carry the sha256 of their payload, so a truncated
or corrupted entry is detected, reported, moved aside (``<name>.corrupt-<UTC time>``) and rebuilt.

Nothing is lost and nothing fails silently:

- an entry that this user may not read raises :class:`PermissionError` naming the file; it is never deleted
  or overwritten (it may be another user's);
- a cache directory that cannot be written keeps the computed result: :func:`cached` returns it with a
  ``RuntimeWarning`` saying how to cache it (``GANDENSITY_CACHE_DIR`` pointing at a writable directory);
- a payload that could not be loaded back (numpy arrays, arbitrary objects) is refused at save time with a
  ``TypeError`` naming where in the payload it sits.

The cache lives in ``$GANDENSITY_CACHE_DIR`` (``~`` and ``$VARS`` expanded; it must be an absolute path), else
``$XDG_CACHE_HOME/gandensity``, else ``~/.cache/gandensity``.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import torch

__all__ = ["CorruptCacheEntry", "cache_dir", "cache_key", "code_version", "generator_fingerprint", "tensor_fingerprint",
           "save_entry", "load_entry", "atomic_write", "cached"]

_MAGIC = b"GANDENSITY-CACHE v1 "
ENV = "GANDENSITY_CACHE_DIR"
_FIX = f"set {ENV} to a writable directory (e.g. export {ENV}=$HOME/.cache/gandensity)"


class CorruptCacheEntry(RuntimeError):
    """A cache file whose header or checksum does not match its payload, or that torch cannot load."""


def cache_dir() -> Path:
    """The cache directory (created if missing).

    Raises:
        ValueError: ``$GANDENSITY_CACHE_DIR`` is set but empty, relative, names an undefined variable, or
            names something that is not a directory.
        OSError: the directory cannot be created (e.g. :class:`PermissionError`).
    """
    root = os.environ.get(ENV)
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "gandensity"
    else:
        if not root.strip():
            raise ValueError(f"{ENV} is set but empty; unset it (the cache then lives in "
                             f"$XDG_CACHE_HOME/gandensity or ~/.cache/gandensity) or set it to an absolute "
                             "directory path")
        expanded = os.path.expandvars(os.path.expanduser(root.strip()))
        undefined = re.findall(r"\$\{?(\w+)", expanded)
        if undefined:
            raise ValueError(f"{ENV}={root!r} refers to undefined environment variable(s) {undefined}; "
                             "define them or set it to an absolute directory path")
        path = Path(expanded)
        if not path.is_absolute():
            raise ValueError(f"{ENV}={root!r} is a relative path, so each working directory would get its own "
                             "cache (chapters run in book/); set it to an absolute path, e.g. "
                             f"{ENV}={Path(expanded).absolute()}")
        if path.exists() and not path.is_dir():
            raise ValueError(f"{ENV}={root!r} is not a directory; set it to a directory path")
    path.mkdir(parents=True, exist_ok=True)
    return path


def code_version(*modules: ModuleType) -> str:
    """sha256 (16 hex digits) of the given modules' source and torch's version: results depend on both."""
    h = hashlib.sha256(torch.__version__.encode())
    for module in modules:
        h.update(inspect.getsource(module).encode())
    return h.hexdigest()[:16]


def _array_bytes(x: Any) -> tuple[str, bytes] | None:
    """(description, raw bytes) of a tensor or numpy array, or None for anything else."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return f"torch {tuple(t.shape)} {t.dtype}", data
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with torch
        return None
    if isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, (float, int, bool)):
        a = np.ascontiguousarray(x)
        if a.dtype == object:
            return None
        return f"numpy {a.shape} {a.dtype.str}", a.tobytes()
    return None


def _key_default(obj: Any) -> Any:
    arr = _array_bytes(obj)
    if arr is not None:  # by content: str() would elide the middle of arrays over 1,000 elements
        head, data = arr
        return {"__array__": head, "sha256": hashlib.sha256(head.encode() + b"\0" + data).hexdigest()}
    return str(obj)


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``parts`` (keys sorted).

    Tensors and numpy arrays are hashed by their shape, dtype and bytes (the whole content, whatever the
    size); other values that JSON cannot represent by their ``str``.
    """
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_key_default)
    return hashlib.sha256(blob.encode()).hexdigest()


def _unloadable(obj: Any, where: str = "payload") -> tuple[str, str] | None:
    """(where, type name) of the first numpy object in ``obj``, which ``torch.load(weights_only=True)`` rejects."""
    module = type(obj).__module__ or ""
    if module == "numpy" or module.startswith("numpy."):
        return where, f"{module}.{type(obj).__name__}"
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _unloadable(v, f"{where}[{k!r}]")
            if found:
                return found
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _unloadable(v, f"{where}[{i}]")
            if found:
                return found
    return None


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def save_entry(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` (tensors, dicts, lists, tuples, numbers, strings) with a checksum header.

    The file gets the permissions of a newly created file (``0o666`` less the umask), so a group-shared cache
    directory serves the group. Raises ``TypeError`` for a payload that could not be loaded back (numpy arrays or
    scalars: convert them with ``torch.from_numpy`` / ``float``), before anything is written.
    """
    path = Path(path)
    found = _unloadable(obj)
    if found:
        raise TypeError(f"cannot cache {found[0]}: it is a {found[1]}, which load_entry (torch.load with "
                        "weights_only=True) refuses; convert it to a tensor (torch.from_numpy) or a Python number "
                        "before returning it")
    buffer = io.BytesIO()
    try:
        torch.save(obj, buffer)
    except Exception as err:  # noqa: BLE001 - unpicklable: re-raised with the fix
        raise TypeError(f"cannot cache this payload ({type(obj).__name__}): torch.save failed "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); store only tensors, dicts, "
                        "lists, tuples, numbers and strings") from err
    payload = buffer.getvalue()
    try:  # never store what cannot be read back
        torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the fix
        raise TypeError(f"cannot cache this payload ({type(obj).__name__}): torch.load(weights_only=True) could not "
                        f"read it back ({type(err).__name__}: {str(err).splitlines()[0][:200]}); store only tensors, "
                        "dicts, lists, tuples, numbers and strings") from err
    header = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    atomic_write(path, lambda f: f.write(header + payload))


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, hidden: bool = False) -> None:
    """Write a file through ``write(binary file)`` so that readers never see half of it: into a temporary file
    next to ``path`` (``<name>.<random>.tmp``, or ``.<name>.<random>.tmp`` with ``hidden``, out of listings),
    fsynced, given the permissions of a newly created file (``0o666`` less the umask, so a group-shared directory
    serves the group) and renamed over ``path``. On any error the temporary file is removed and ``path`` is left
    as it was."""
    path = Path(path)
    prefix = ("." if hidden else "") + path.name + "."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600: only the writer could read the file
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_entry(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> Any:
    """Read an entry written by :func:`save_entry`.

    Raises:
        CorruptCacheEntry: the file does not verify (bad header, checksum mismatch) or torch cannot load it.
        PermissionError: this user may not read the file (reported as such: it is not corrupt).
    """
    raw = Path(path).read_bytes()
    header, sep, payload = raw.partition(b"\n")
    if not sep or not header.startswith(_MAGIC):
        raise CorruptCacheEntry(f"{path}: not a gandensity cache file (bad header)")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(_MAGIC):]:
        raise CorruptCacheEntry(f"{path}: checksum mismatch (truncated or corrupted)")
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - the bytes verify, but this torch cannot read them
        raise CorruptCacheEntry(f"{path}: checksum verifies but torch {torch.__version__} cannot load it "
                                f"({type(err).__name__}: {str(err).splitlines()[0][:200]})") from err


def _move_aside(path: Path) -> Path | None:
    """Rename a corrupt entry to ``<name>.corrupt-<UTC time>`` (kept for inspection); None if that fails."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    i = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{i}")
        i += 1
    try:
        os.rename(path, target)
    except OSError:
        return None
    return target


def _unreadable(path: Path, err: OSError) -> PermissionError:
    try:
        st = path.stat()
        owner = f"owned by uid {st.st_uid}, mode {st.st_mode & 0o777:o}"
    except OSError:
        owner = "owner unknown"
    return PermissionError(f"cache entry {path} exists but this user may not read it ({owner}; {err}); it is left "
                           f"untouched. Ask its owner to make it group-readable (chmod g+r {path}), or {_FIX} "
                           "of your own")


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

    A corrupt entry is moved aside (``RuntimeWarning``) and rebuilt; an unreadable one raises
    :class:`PermissionError` and is left alone; when the result cannot be saved (read-only or failing cache
    directory) it is still returned, with a ``RuntimeWarning``.
    """
    # Training is bitwise deterministic for a fixed number of torch threads, not across thread counts:
    # the count is part of what a result depends on.
    parts = {**parts, "torch_threads": torch.get_num_threads()}
    name = f"{kind}-{cache_key(parts)[:24]}.pt"
    try:
        directory = cache_dir()
    except OSError as err:  # e.g. a parent that this user may not write; a bad setting raises ValueError
        if not enabled:
            return build(), False, Path(name)
        result = build()
        warnings.warn(f"the cache directory could not be created ({err}); the {kind} result was computed but "
                      f"not cached. To cache it, {_FIX}", RuntimeWarning, stacklevel=2)
        return result, False, Path(name)
    path = directory / name
    if not enabled:
        return build(), False, path
    found, result = _load_existing(path)
    if found:
        return result, True, path
    # One builder per key: a second process asking for the same entry (two chapters, or several workers)
    # waits for the first and loads its result instead of computing it again.
    with _build_lock(path):
        found, result = _load_existing(path)
        if found:
            return result, True, path
        result = build()
        try:
            save_entry(path, result)
        except OSError as err:  # read-only, full or failing disk: keep the finished work
            warnings.warn(f"could not save the {kind} result to the cache ({type(err).__name__}: {err}); it is "
                          f"returned but not cached, so the next run computes it again. To cache it, {_FIX}",
                          RuntimeWarning, stacklevel=2)
    return result, False, path


def _load_existing(path: Path) -> tuple[bool, Any]:
    """(True, entry) if ``path`` holds a readable entry; (False, None) if absent or corrupt (moved aside)."""
    if not path.exists():
        return False, None
    try:
        return True, load_entry(path)
    except PermissionError as err:
        raise _unreadable(path, err) from err
    except CorruptCacheEntry as err:
        moved = _move_aside(path)
        where = f"moved aside to {moved.name}" if moved else "could not be moved aside (left in place)"
        warnings.warn(f"cache entry {path} is corrupt ({err}); {where}; rebuilding it", RuntimeWarning,
                      stacklevel=3)
        return False, None


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``<entry>.lock`` while the entry is built (POSIX ``flock``; released
    when the process dies, so a killed builder never blocks the next one). Without ``fcntl`` or where the lock
    file cannot be created (a read-only cache), builds go ahead unlocked."""
    try:
        import fcntl
        handle = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 - held until the build ends
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def generator_fingerprint(generator: torch.nn.Module) -> str:
    """sha256 (hex) of a network's configuration and state (weights and batch-norm statistics)."""
    h = hashlib.sha256(repr(getattr(generator, "config", type(generator).__name__)).encode())
    for name, value in generator.state_dict().items():
        h.update(name.encode())
        h.update(_array_bytes(value)[1])
    return h.hexdigest()


def tensor_fingerprint(x: torch.Tensor) -> str:
    """sha256 (hex) of a tensor's shape, dtype and bytes."""
    h = hashlib.sha256(f"{tuple(x.shape)} {x.dtype}".encode())
    h.update(_array_bytes(x)[1])
    return h.hexdigest()
