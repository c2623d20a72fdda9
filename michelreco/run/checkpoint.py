"""Checkpoints of a long run: one file per finished range of events, so a killed run can resume.

A run writes the rows of each finished range to ``OUTPUT.parts/range_<first event>.npz`` (and, with
``--explain``, ``.jsonl``) through a temporary name and a rename, so a part is either whole or absent
whatever kills the run. ``manifest.json`` records what the run is (input file, event range, range
size, finder parameters); ``--resume`` continues only a run with the same manifest. When every range
is done, the parts are merged in order into the output, which is renamed into place, and the parts
are removed. An interrupted and a whole run therefore write the output the same way, byte for byte.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np

from michelreco.errors import InputError
from michelreco.run.io import write_bytes_atomically

__all__ = ["Checkpoint"]


class Checkpoint:
    """The parts directory of one run.

    Parameters
    ----------
    output : path-like
        The run's output file; the parts live in ``OUTPUT.parts``.
    manifest : dict
        What identifies the run (JSON-serializable).
    resume : bool
        Continue the parts of an interrupted run with the same manifest.
    force : bool
        Discard the parts of an interrupted run and start again.
    """

    def __init__(self, output, manifest: dict, resume: bool = False, force: bool = False):
        self.dir = Path(str(output) + ".parts")
        manifest = json.loads(json.dumps(manifest))      # normalized as it will be read back
        found = self.dir / "manifest.json"
        if self.dir.exists():
            if resume:
                try:
                    old = json.loads(found.read_text())
                except (OSError, ValueError):
                    old = None
                if old != manifest:
                    raise InputError(f"{self.dir}: made by a run with another input, range or parameters; "
                                     f"remove it, or use --force to start again")
            elif force:
                shutil.rmtree(self.dir)
            else:
                raise InputError(f"{self.dir}: an interrupted run left its parts here; use --resume to "
                                 f"continue it or --force to start again")
        if not self.dir.exists():
            self.dir.mkdir()
            write_bytes_atomically(found, json.dumps(manifest, indent=1).encode())

    def _path(self, first: int, suffix: str) -> Path:
        return self.dir / f"range_{first:012d}{suffix}"

    def done(self, first: int) -> bool:
        """Is the range starting at event ``first`` finished?"""
        return self._path(first, ".npz").exists()

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
        rows = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
        explain = self._path(first, ".jsonl")
        lines = explain.read_text().splitlines(keepends=True) if explain.exists() else []
        return rows, failures, lines

    def remove(self) -> None:
        """Delete the parts (after the output is in place)."""
        shutil.rmtree(self.dir, ignore_errors=True)
