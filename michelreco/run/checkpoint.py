"""Checkpoints of a long run: one file per finished range of events, so a killed run can resume.

A run writes the rows of each finished range to ``OUTPUT.parts/range_<first event>.npz`` (and, with
``--explain``, ``.jsonl``) through a temporary name, an fsync and a rename, so a part is either whole or
absent whatever kills the run. ``manifest.json`` records what the run is: the package version, the input
file's fingerprint (path, size, modification time, and a hash of its first and last MiB), the event range,
range size and finder parameters; ``--resume`` continues only a run with the same manifest and refuses
another with one line saying what differs. A part that cannot be read back whole (truncated, damaged) is
removed and its range computed again. When every range is done, the parts are merged in order into the
output, which is renamed into place, and the parts are removed. An interrupted and a whole run therefore
write the output the same way, byte for byte.

A run holds an exclusive lock on ``OUTPUT.parts/lock`` while it writes there (``lock_folder``, an
``fcntl.flock``: the kernel drops it when the process ends, however it ends), so a second run on the same output,
with ``--resume`` or ``--force`` too, is refused in one line instead of writing into, or deleting, the parts of a
run still going. A file system without locks runs without one. A sweep locks its parts the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import IO, Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: no lock
    fcntl = None

import numpy as np

from michelreco import __version__
from michelreco.errors import InputError
from michelreco.run.outputs import os_error_message, write_bytes_atomically

__all__ = ["Checkpoint", "input_fingerprint", "lock_folder", "open_parts", "FINGERPRINT_BLOCK"]

FINGERPRINT_BLOCK = 1 << 20


def input_fingerprint(path: str | os.PathLike) -> dict:
    """Cheap identity of an input file, read in two MiB whatever its size.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    dict
        ``path`` (resolved), ``bytes``, ``mtime_ns`` and ``sha256_ends``, the SHA-256 of its first and last MiB.
    """
    path = Path(path)
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_BLOCK))
        if stat.st_size > FINGERPRINT_BLOCK:
            f.seek(max(stat.st_size - FINGERPRINT_BLOCK, FINGERPRINT_BLOCK))
            digest.update(f.read(FINGERPRINT_BLOCK))
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256_ends": digest.hexdigest()}


def _difference(old: dict | None, new: dict) -> str:
    """What differs between the manifest of the parts and the one of this run, in the user's terms."""
    if old is None:
        return "its manifest is missing or unreadable"
    if old.get("version") != new.get("version"):
        return f"made by michelreco {old.get('version', 'before 0.2')} (this is {new['version']})"
    if old.get("input") != new.get("input"):
        if (old.get("input") or {}).get("path") != new["input"]["path"]:
            return f"made from another input file ({(old.get('input') or {}).get('path')})"
        return "the input file changed since (size, date or content)"
    words = {"params": "finder parameters", "start": "event range", "stop": "event range", "chunk": "--chunk",
             "explain": "--explain", "dataset": "dataset"}
    names = dict.fromkeys(words.get(key, key) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key))
    return "made by a run with different " + ", ".join(names)


def lock_folder(folder: Path) -> IO | None:
    """An exclusive lock on ``folder/lock``, held while the returned file stays open (a run's parts, a sweep's);
    None where the file system has no locks. Raises InputError when another process holds it."""
    if fcntl is None:
        return None
    try:
        handle = open(folder / "lock", "a+")
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise InputError(f"{folder}: another run is writing these parts now"
                         f"{f' (process {holder})' if holder.isdigit() else ''}; wait for it to end, or write to "
                         f"another output") from None
    except OSError:              # no locks on this file system (some network file systems)
        handle.close()
        return None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def open_parts(folder: Path, manifest: dict, resume: bool, force: bool, difference: Callable[[dict | None, dict], str],
               left: str) -> tuple[IO | None, bool]:
    """Start or continue a folder of parts (a run's, a sweep's), locked against other processes (``lock_folder``).

    Parameters
    ----------
    folder : Path
        The folder; created with ``manifest.json`` when absent.
    manifest : dict
        What identifies the job (as JSON reads it back): parts with another manifest are not continued.
    resume, force : bool
        Continue the parts of an interrupted job with the same manifest; remove any parts and start again.
    difference : callable
        (the parts' manifest or None, ``manifest``) -> what differs, in the user's terms.
    left : str
        What an interrupted job left there, for the refusal without ``resume`` or ``force``.

    Returns
    -------
    lock : file or None
        The lock, to hold until the job ends (None on a file system without locks).
    resumed : bool
        Whether the folder's parts are continued.
    """
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise InputError(f"{folder}: is not a folder of parts; remove it")
        lock = lock_folder(folder)              # before anything is read, removed or continued
        try:
            resumed = _continue_or_clear(folder, manifest, resume, force, difference, left)
        except InputError:
            if lock is not None:
                lock.close()
            raise
        if resumed:
            return lock, True
        if lock is not None:
            lock.close()                        # its folder is gone
    try:
        folder.mkdir()
    except OSError as err:
        reason = os_error_message(err, "").lstrip(": ")
        raise InputError(f"{folder}: cannot create the folder of parts ({reason})") from None
    lock = lock_folder(folder)
    write_bytes_atomically(folder / "manifest.json", json.dumps(manifest, indent=1).encode())
    return lock, False


def _continue_or_clear(folder: Path, manifest: dict, resume: bool, force: bool,
                       difference: Callable[[dict | None, dict], str], left: str) -> bool:
    """The parts found in ``folder``: continued (True: ``resume``, the same manifest; the killed job's
    temporaries removed), removed (False: ``force``), or refused (``open_parts``)."""
    if resume and not force:
        try:
            old = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            old = None
        if old != manifest:
            raise InputError(f"{folder}: cannot resume: {difference(old, manifest)}; use --force to start again")
        for stale in folder.glob(".*"):
            stale.unlink(missing_ok=True)
        return True
    if not force:
        raise InputError(f"{folder}: {left}; use --resume to continue it or --force to start again")
    shutil.rmtree(folder)
    return False


class Checkpoint:
    """The parts directory of one run, locked against other runs until ``release`` (or the end of a ``with``).

    Parameters
    ----------
    output : path-like
        The run's output file; the parts live in ``OUTPUT.parts``.
    manifest : dict
        What identifies the run (JSON-serializable); the package version is added.
    resume : bool
        Continue the parts of an interrupted run with the same manifest.
    force : bool
        Discard the parts of an interrupted run and start again.
    """

    def __init__(self, output: str | os.PathLike, manifest: dict, resume: bool = False, force: bool = False):
        self.dir = Path(str(output) + ".parts")
        manifest = json.loads(json.dumps({"version": __version__, **manifest}))   # normalized as read back
        self._explain = bool(manifest.get("explain"))
        self._lock, _ = open_parts(self.dir, manifest, resume, force, _difference,
                                   "an interrupted run left its parts here")

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Let other runs use these parts (the lock also goes when the process ends)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _path(self, first: int, suffix: str) -> Path:
        """The file of the range starting at ``first``."""
        return self.dir / f"range_{first:012d}{suffix}"

    def done(self, first: int, n_events: int | None = None) -> bool:
        """Is the range starting at event ``first`` finished, and its part readable whole?

        A part that cannot be read back (truncated, damaged, the wrong number of events) is removed, so
        that its range is computed again.
        """
        path = self._path(first, ".npz")
        if not path.exists():
            return False
        try:
            rows, _, _ = self.load(first)
            ok = n_events is None or len(rows) == n_events
        except Exception:  # noqa: BLE001 - any damage means: compute it again
            ok = False
        if not ok:
            path.unlink(missing_ok=True)
            self._path(first, ".jsonl").unlink(missing_ok=True)
        return ok

    def save(self, first: int, rows: list, failures: list, records: list | None = None) -> None:
        """Store a finished range: its rows, failed events and (optionally) explain records."""
        if records is not None:
            write_bytes_atomically(self._path(first, ".jsonl"), "".join(json.dumps(r) + "\n" for r in records).encode())
        lengths = np.array([len(r) for r in rows], np.int64)
        flat = np.concatenate(rows).astype(np.int32) if rows else np.empty(0, np.int32)
        buf = io.BytesIO()
        np.savez(buf, lengths=lengths, indices=flat,
                 failures=np.array(json.dumps([[int(i), str(m)] for i, m in failures])))
        write_bytes_atomically(self._path(first, ".npz"), buf.getvalue())   # last: the range counts as done

    def load(self, first: int) -> tuple[list[np.ndarray], list[tuple[int, str]], list[str]]:
        """Rows, failed events and explain lines (JSON strings) of a finished range."""
        with np.load(self._path(first, ".npz")) as part:
            lengths, flat = part["lengths"], part["indices"]
            failures = [(i, m) for i, m in json.loads(str(part["failures"]))]
        if int(lengths.sum()) != len(flat) or (len(lengths) and lengths.min() < 0):
            raise ValueError(f"{self._path(first, '.npz')}: inconsistent part")
        rows = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
        explain = self._path(first, ".jsonl")
        if self._explain and not explain.exists():
            raise ValueError(f"{explain}: missing")
        lines = explain.read_text().splitlines(keepends=True) if explain.exists() else []
        return rows, failures, lines

    def remove(self) -> None:
        """Delete the parts (after the output is in place)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.lexists(self.dir):  # pragma: no cover - a file of that name
            os.unlink(self.dir)
        self.release()
