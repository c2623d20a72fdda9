"""Reading and writing the challenge HDF5 files.

Three kinds of file (``docs/data-format.md``), each one dataset of variable-length rows, one row per event:

- events (``*_xyze_*.h5``, dataset ``data``): float32 rows of N*4 values, x, y, z (voxel indices 0..767)
  and energy (MeV), reshaped to (N, 4);
- labels (``*_label_*.h5``, dataset ``labels``): int32 rows of N semantic labels 0..4;
- solutions (one dataset, ``solution`` by default): int32 rows of indices of the Michel voxels.

Rows are read in slices of ``block`` rows, which is what makes reading a vlen dataset fast (one call per
row costs ~40 us). Solutions are written to a temporary file that is renamed when complete, so a finished
output never holds a partial result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np

from michelreco.constants import GRID_VOXELS, N_LABELS
from michelreco.errors import InputError
from michelreco.run.outputs import (PathLike, check_output, commit, os_error_message, temporary_name,
                                    write_bytes_atomically)

__all__ = [
    "EVENTS_DATASET", "LABELS_DATASET", "SOLUTION_DATASET",
    "open_h5", "event_count", "iter_rows", "EventError", "iter_events", "read_event", "iter_labels", "read_labels",
    "iter_solution", "read_solution", "solution_dataset_name", "label_path_for",
    "check_xyze_row", "check_label_row", "check_solution_row",
    "RowWriter", "write_events", "write_labels", "write_solution", "write_bytes_atomically",
]

EVENTS_DATASET = "data"
LABELS_DATASET = "labels"
SOLUTION_DATASET = "solution"
DEFAULT_BLOCK = 1000


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open an existing HDF5 file for reading, or raise InputError saying why not."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an HDF5 file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read it (permission denied)")
    try:
        if not h5py.is_hdf5(path):
            raise InputError(f"{path}: not an HDF5 file")
        return h5py.File(path, "r")
    except OSError as err:
        text = str(err).lower()
        if "truncated" in text or "eof" in text:
            raise InputError(f"{path}: truncated HDF5 file (an incomplete copy or download?)") from None
        raise InputError(f"{path}: damaged HDF5 file, cannot be opened ({_h5_reason(err)})") from None


def _h5_reason(err: Exception) -> str:
    """The short reason inside an h5py error message."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "(" in text and text.endswith(")"):
        text = text[text.index("(") + 1:-1]
    return text


# What a file holding each of the challenge's datasets is, to name a file given in the wrong place
_FILE_KINDS = {EVENTS_DATASET: "an events file", LABELS_DATASET: "a label file", SOLUTION_DATASET: "a solution file"}


def _dataset(f: h5py.File, name: str) -> h5py.Dataset:
    """The dataset ``name`` of an open file, or an InputError listing what the file holds (and, for a file of
    another of the challenge's kinds, which: the files were most likely given in the wrong order)."""
    obj = f.get(name)
    if not isinstance(obj, h5py.Dataset):
        datasets = sorted(k for k in f if isinstance(f[k], h5py.Dataset))
        message = f"{f.filename}: no dataset '{name}' (datasets: {', '.join(datasets) or 'none'})"
        if name in _FILE_KINDS and len(datasets) == 1 and datasets[0] in _FILE_KINDS:
            message += (f": this is {_FILE_KINDS[datasets[0]]}, where {_FILE_KINDS[name]} was expected (the wrong "
                        "file, or files in the wrong order?)")
        raise InputError(message)
    return obj


def event_count(path: str | os.PathLike, dataset: str = EVENTS_DATASET) -> int:
    """Number of events (rows) in ``dataset`` of the file."""
    with open_h5(path) as f:
        return len(_dataset(f, dataset))


def _resolve_range(n: int, start: int, stop: int | None, path) -> tuple[int, int]:
    """Clip a [start, stop) event range to a file of n events, refusing nonsense."""
    stop = n if stop is None else stop
    if start < 0 or stop < start:
        raise InputError(f"{path}: bad event range [{start}, {stop})")
    if stop > n:
        raise InputError(f"{path}: event range [{start}, {stop}) beyond the {n} events in the file")
    return start, stop


def iter_rows(path: str | os.PathLike, dataset: str, start: int = 0, stop: int | None = None,
              block: int = DEFAULT_BLOCK) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (event index, raw row) for rows [start, stop) of a vlen dataset, ``block`` rows per HDF5 call.

    The rows are not checked (``check_xyze_row`` and friends do that), so that a run can isolate a malformed
    event; a file that cannot be read raises ``InputError`` naming it and the events concerned.

    Parameters
    ----------
    path : path-like
        The HDF5 file.
    dataset : str
        The dataset (``data``, ``labels``, a solution's).
    start, stop : int
        The event range (``stop=None``: to the end); a range beyond the file raises ``InputError``.
    block : int
        Rows per HDF5 read.

    Yields
    ------
    (int, ndarray)
        The event index and its flat row as stored.
    """
    with open_h5(path) as f:
        ds = _dataset(f, dataset)
        if ds.ndim != 1 or h5py.check_vlen_dtype(ds.dtype) is None:
            raise InputError(f"{path}: dataset '{dataset}' is not one variable-length row per event")
        start, stop = _resolve_range(len(ds), start, stop, path)
        for lo in range(start, stop, block):
            hi = min(lo + block, stop)
            try:
                rows = ds[lo:hi]
            except (OSError, RuntimeError) as err:
                raise InputError(f"{path}: events {lo}..{hi - 1} cannot be read (truncated or damaged file: "
                                 f"{_h5_reason(err)})") from None
            for k, row in enumerate(rows):
                yield lo + k, row


_iter_rows = iter_rows


class EventError(InputError):
    """One event's row is not a valid challenge row; ``reason`` says why, without the file and event."""

    def __init__(self, path, event: int, reason: str):
        super().__init__(f"{path}: event {event}: {reason}")
        self.path, self.event, self.reason = path, event, reason

    def __reduce__(self):
        return (EventError, (self.path, self.event, self.reason))


def check_xyze_row(row: np.ndarray, event: int, path: str | os.PathLike = "", duplicates: bool = True) -> np.ndarray:
    """Reshape a flat event row to (N, 4) float32 after checking it.

    Checked: length a multiple of 4, finite values, coordinates whole voxel indices in 0..767, energies not
    negative, and with ``duplicates`` no voxel listed twice (``checks.xyze_problem``, about 14 ns per voxel;
    without, ``checks.value_problem``, about 4 ns: for a row that goes straight to the finder, whose canonical
    sort refuses duplicates itself).

    Parameters
    ----------
    row : ndarray
        The flat row, N*4 values.
    event : int
        Its event index, for the message.
    path : path-like, optional
        Its file, for the message.
    duplicates : bool, optional
        Also look for voxels listed twice (default).

    Returns
    -------
    ndarray, shape (N, 4), float32
        The event.

    Raises
    ------
    EventError
        Naming the file, the event and the first bad voxel.
    """
    from michelreco.reco.checks import OK, describe_problem, value_problem, xyze_problem

    if row.size % 4:
        raise EventError(path, event, f"row length {row.size} is not a multiple of 4")
    xyze = np.ascontiguousarray(row, dtype=np.float32).reshape(-1, 4)
    code, voxel, earlier = (xyze_problem if duplicates else value_problem)(xyze, GRID_VOXELS)
    if code != OK:
        raise EventError(path, event, describe_problem(xyze, code, voxel, earlier, GRID_VOXELS))
    return xyze


def check_label_row(row: np.ndarray, n_voxels: int | None, event: int, path: PathLike = "") -> np.ndarray:
    """Check a label row (values 0..4, one per voxel when n_voxels is given) and return it as int32."""
    labels = np.asarray(row, dtype=np.int32)
    if n_voxels is not None and labels.size != n_voxels:
        raise EventError(path, event, f"{labels.size} labels for {n_voxels} voxels")
    if labels.size and (labels.min() < 0 or labels.max() >= N_LABELS):
        raise EventError(path, event, f"label values outside 0..{N_LABELS - 1}")
    return labels


def check_solution_row(row: np.ndarray, n_voxels: int | None, event: int, path: PathLike = "") -> np.ndarray:
    """Check a solution row (unique indices below n_voxels) and return it as int32."""
    idx = np.asarray(row)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        if not np.array_equal(idx, np.round(idx)):
            raise EventError(path, event, "solution indices are not integers")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or (n_voxels is not None and idx.max() >= n_voxels)):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        if n_voxels == 0:
            raise EventError(path, event, f"solution index {bad} but the event has no voxels")
        bound = f"0..{n_voxels - 1}, the event's {n_voxels} voxels" if n_voxels is not None else ">= 0"
        raise EventError(path, event, f"solution index {bad} out of range (must be {bound})")
    if np.unique(idx).size != idx.size:
        raise EventError(path, event, "duplicated solution indices")
    return idx.astype(np.int32)


def iter_events(path: PathLike, start: int = 0, stop: int | None = None, block: int = DEFAULT_BLOCK,
                dataset: str = EVENTS_DATASET) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (event index, xyze (N, 4) float32) for events [start, stop), checked, read block-wise."""
    for i, row in _iter_rows(path, dataset, start, stop, block):
        yield i, check_xyze_row(row, i, path)


def read_event(path: PathLike, i: int, dataset: str = EVENTS_DATASET) -> np.ndarray:
    """Read one event (N, 4) float32 by index; only that row is read from disk."""
    for _, xyze in iter_events(path, i, i + 1, 1, dataset):
        return xyze
    raise InputError(f"{path}: no event {i}")  # pragma: no cover - _resolve_range already refuses


def iter_labels(path: PathLike, start: int = 0, stop: int | None = None, block: int = DEFAULT_BLOCK,
                dataset: str = LABELS_DATASET) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (event index, labels (N,) int32) for events [start, stop), values checked."""
    for i, row in _iter_rows(path, dataset, start, stop, block):
        yield i, check_label_row(row, None, i, path)


def read_labels(path: PathLike, i: int, dataset: str = LABELS_DATASET) -> np.ndarray:
    """Read the labels of one event by index."""
    for _, labels in iter_labels(path, i, i + 1, 1, dataset):
        return labels
    raise InputError(f"{path}: no event {i}")  # pragma: no cover


def solution_dataset_name(path: PathLike, name: str | None = None) -> str:
    """The solution dataset of a file: ``name`` if given, else its only variable-length integer dataset."""
    with open_h5(path) as f:
        if name is not None:
            _dataset(f, name)
            return name
        found = [k for k, v in f.items() if isinstance(v, h5py.Dataset)
                 and (vt := h5py.check_vlen_dtype(v.dtype)) is not None and np.issubdtype(vt, np.integer)]
    if not found:
        raise InputError(f"{path}: no variable-length integer dataset (is this a solution file?)")
    if len(found) > 1:
        raise InputError(f"{path}: several candidate solution datasets ({', '.join(sorted(found))}); "
                         f"choose one with --dataset-name")
    return found[0]


def iter_solution(path: PathLike, start: int = 0, stop: int | None = None, block: int = DEFAULT_BLOCK,
                  dataset: str | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (event index, Michel voxel indices int32) for events [start, stop) of a solution file."""
    name = solution_dataset_name(path, dataset)
    for i, row in _iter_rows(path, name, start, stop, block):
        yield i, check_solution_row(row, None, i, path)


def read_solution(path: PathLike, i: int, dataset: str | None = None) -> np.ndarray:
    """Read the solution row of one event by index."""
    for _, idx in iter_solution(path, i, i + 1, 1, dataset):
        return idx
    raise InputError(f"{path}: no event {i}")  # pragma: no cover


def label_path_for(xyze_path: PathLike) -> Path:
    """The label file that goes with an events file: ``*_xyze_*`` becomes ``*_label_*``."""
    p = Path(xyze_path)
    if "_xyze" not in p.name:
        raise InputError(f"{p}: cannot guess the label file (name has no '_xyze')")
    return p.with_name(p.name.replace("_xyze", "_label", 1))


class RowWriter:
    """Write one vlen row per event (solutions, labels or events) to a temporary file, renamed when complete.

    Rows are buffered and written ``block`` at a time (one HDF5 call per row costs ~40 us). The file is
    written under a hidden temporary name beside ``path`` (``outputs.temporary_name``), fsynced, and
    renamed to ``path`` when every row is in. If the writer is closed before every row was given, or an
    exception leaves the ``with`` block, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : path-like
        Final output file.
    n_rows : int
        Number of events (rows) the file will hold.
    dtype : numpy dtype, default int32
        Element type of the rows (int32 for solutions and labels, float32 for events).
    dataset : str, default "solution"
        Dataset name.
    force : bool, default False
        Allow replacing an existing ``path``.
    block : int, default 1000
        Rows buffered per write.
    inputs : iterable of path-like, optional
        The inputs of the command: ``path`` may not be one of them, even with ``force``.
    attrs : dict, optional
        Attributes of the dataset (``first_event`` of a solution of an event range).
    """

    def __init__(self, path, n_rows: int, dtype=np.int32, dataset: str = SOLUTION_DATASET,
                 force: bool = False, block: int = DEFAULT_BLOCK, inputs=(), attrs: dict | None = None):
        self.path = check_output(path, inputs, force)
        self.n_rows = int(n_rows)
        self.block = int(block)
        self.tmp_path = temporary_name(self.path)
        self._dtype = np.dtype(dtype)
        try:
            self._file = h5py.File(self.tmp_path, "w")
            self._ds = self._file.create_dataset(dataset, (self.n_rows,), dtype=h5py.vlen_dtype(self._dtype))
            for key, value in (attrs or {}).items():
                self._ds.attrs[key] = value
        except OSError as err:
            self._file = None
            self.tmp_path.unlink(missing_ok=True)
            raise InputError(os_error_message(err, self.path)) from None
        self._buffer: list[np.ndarray] = []
        self._written = 0

    @property
    def rows_done(self) -> int:
        """Rows given so far (written or buffered)."""
        return self._written + len(self._buffer)

    def append(self, row: np.ndarray) -> None:
        """Add the next event's row."""
        if self.rows_done >= self.n_rows:
            raise ValueError(f"{self.path}: more than the {self.n_rows} declared rows")
        self._buffer.append(np.asarray(row, dtype=self._dtype).ravel())
        if len(self._buffer) >= self.block:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered rows in one HDF5 call."""
        if not self._buffer:
            return
        lo, n = self._written, len(self._buffer)
        try:
            if len({row.size for row in self._buffer}) == 1:
                # h5py turns equal-length rows into a 2D array it cannot store as vlen: write them one by one
                for k, row in enumerate(self._buffer):
                    self._ds[lo + k] = row
            else:
                rows = np.empty(n, dtype=object)
                rows[:] = self._buffer
                self._ds[lo:lo + n] = rows
        except OSError as err:
            raise InputError(os_error_message(err, self.path)) from None
        self._written += n
        self._buffer = []

    def close(self) -> None:
        """Flush, then fsync and rename into place if every row was written, else discard the temporary file."""
        if self._file is None:
            return
        complete = self.rows_done == self.n_rows
        try:
            if complete:
                self._flush()
            self._file.close()
            self._file = None
            if complete:
                commit(self.tmp_path, self.path)
        except BaseException:
            self.discard()
            raise
        if not complete:
            self.discard()
            raise ValueError(f"{self.path}: only {self.rows_done} of {self.n_rows} rows given; nothing written")

    def discard(self) -> None:
        """Drop the temporary file without touching ``path``."""
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _write_rows(path, rows, dtype, dataset: str, force: bool) -> None:
    rows = list(rows)
    with RowWriter(path, len(rows), dtype=dtype, dataset=dataset, force=force) as w:
        for row in rows:
            w.append(row)


def write_events(path: PathLike, events: Iterable[np.ndarray], force: bool = False) -> None:
    """Write a list of (N, 4) float32 events as a challenge ``*_xyze`` file."""
    _write_rows(path, events, np.float32, EVENTS_DATASET, force)


def write_labels(path: PathLike, labels: Iterable[np.ndarray], force: bool = False) -> None:
    """Write a list of (N,) label arrays as a challenge ``*_label`` file."""
    _write_rows(path, labels, np.int32, LABELS_DATASET, force)


def write_solution(path: PathLike, solutions: Iterable[np.ndarray], dataset: str = SOLUTION_DATASET,
                   force: bool = False) -> None:
    """Write a list of index arrays (one per event, possibly empty) as a solution file."""
    _write_rows(path, solutions, np.int32, dataset, force)
