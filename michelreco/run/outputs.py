"""The one output rule of every command: never an input, never half-written, replaced only with ``--force``.

- ``check_output`` refuses, with one line, an output that is one of the command's inputs (the same file
  by ``os.path.samefile``: symlinks and hard links included), even with ``force``; an existing output
  without ``force``; an output whose folder is missing or not writable; the same path given as two
  outputs of one command.
- ``write_bytes_atomically``, ``atomic_open`` and ``atomic_path`` write a file under a hidden temporary
  name beside it (``.NAME.PID.partial``), fsync it, rename it into place and fsync the folder: the output
  is either the complete new file, or whatever was there before. On an error the temporary is removed.
- ``output_directory`` does the same for a folder of results (report, sweep, spectrum): it is built aside
  in a temporary sibling and swapped in only when complete; a failure removes the temporary and leaves
  the previous folder (or nothing) in place, never an empty folder.
- ``os_error_message`` turns an ``OSError`` into one line in the user's terms (the final file name, no
  temporary names, no errno numbers).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from michelreco.errors import InputError

__all__ = ["check_output", "check_outputs", "check_extension", "write_bytes_atomically", "atomic_open",
           "atomic_path", "commit", "output_directory", "temporary_name", "os_error_message", "fsync_folder"]

PathLike = str | os.PathLike

_REASONS = {
    errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system", errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder", errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "name too long", errno.EIO: "input/output error (damaged disk or file?)",
    errno.EEXIST: "already exists", errno.ENOTEMPTY: "folder not empty", errno.EXDEV: "on another file system",
}


def temporary_name(path: PathLike, tag: str = "partial") -> Path:
    """The hidden temporary sibling of ``path`` that this process writes before the rename.

    Parameters
    ----------
    path : path-like
        The final file or folder.
    tag : str
        ``partial`` (a file), ``building`` (a folder built aside) or ``replaced`` (the folder it replaces).

    Returns
    -------
    pathlib.Path
        ``.NAME.PID.TAG`` in the same folder.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{tag}")


def _final_name(name: str) -> str:
    """The user's path behind a temporary one (each ``.NAME.PID.partial`` component becomes ``NAME``)."""
    def final(part: str) -> str:
        """One path component without its temporary decoration."""
        pieces = part.split(".")
        if part.startswith(".") and len(pieces) >= 4 and pieces[-2].isdigit() and pieces[-1] in (
                "partial", "building", "replaced"):
            return ".".join(pieces[1:-2])
        return part
    return os.sep.join(final(part) for part in name.split(os.sep))


def os_error_message(err: OSError, path: PathLike | None = None) -> str:
    """One line for an ``OSError``: ``FILE: reason``, with the final name instead of a temporary one.

    Parameters
    ----------
    err : OSError
        The error (from the OS or from h5py).
    path : path-like, optional
        The file to name; default the error's own file name. An empty string gives the reason alone.

    Returns
    -------
    str
        For example ``sol.h5: no space left on the disk`` (no errno number, no temporary name).
    """
    name = path if path is not None else (err.filename if err.filename is not None else "")
    name = _final_name(os.fsdecode(name)) if name != "" else ""
    reason = _REASONS.get(err.errno or -1)
    if reason is None:
        reason = (err.strerror or str(err) or type(err).__name__).strip().splitlines()[0]
        reason = reason[:1].lower() + reason[1:]
        # h5py's messages name the library call first: keep the part in brackets, which says what happened
        if "(" in reason and reason.endswith(")") and "unable to" in reason.lower():
            reason = reason[reason.index("(") + 1:-1]
    return f"{name}: {reason}" if name else reason


def _same(a: Path, b: Path) -> bool:
    """Are ``a`` and ``b`` the same existing file (symlinks and hard links included)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(folder: Path, path: Path) -> bool:
    """Does ``path`` (resolved) lie within ``folder`` (resolved)?"""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def check_output(path: PathLike, inputs: Iterable[PathLike | None] = (), force: bool = False, *,
                 folder: bool = False, option: str | None = None) -> Path:
    """Check that ``path`` may be written; raise a one-line ``InputError`` saying why not.

    Parameters
    ----------
    path : path-like
        The output file (or, with ``folder``, the output folder).
    inputs : iterable of path-like or None
        The command's input files (``None`` entries are skipped). An output that is one of them is
        refused even with ``force``; so is an output folder that holds one of them.
    force : bool
        Allow replacing an existing output.
    folder : bool
        The output is a folder of results.
    option : str, optional
        The option that named the output (``--plot``), used in the message.

    Returns
    -------
    pathlib.Path
        ``path`` as a Path.
    """
    path = Path(path)
    what = f" ({option})" if option else ""
    for inp in inputs:
        if inp is None:
            continue
        inp = Path(inp)
        if _same(path, inp):
            same = "" if os.path.abspath(path) == os.path.abspath(inp) else f" {inp}"
            raise InputError(f"{path}{what}: is the input{same} of this command; refusing to overwrite an input, "
                             f"even with --force")
        if folder and path.is_dir() and inp.exists() and _inside(path, inp):
            raise InputError(f"{path}{what}: holds the input {inp}; refusing to replace it, even with --force")
    if path.exists() or path.is_symlink():
        if not folder and path.is_dir():
            raise InputError(f"{path}{what}: is a folder, expected a file name")
        if folder and not path.is_dir():
            raise InputError(f"{path}{what}: is a file, expected a folder name")
        if not force:
            raise InputError(f"{path}{what}: exists; use --force to replace it")
    parent = path.parent
    if not parent.exists():
        raise InputError(f"{parent}: no such folder (create it first)")
    if not parent.is_dir():
        raise InputError(f"{parent}: is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{parent}: cannot write in this folder (permission denied)")
    return path


def check_outputs(outputs: dict[str, PathLike | None], inputs: Iterable[PathLike | None] = (),
                  force: bool = False) -> None:
    """``check_output`` for each of several outputs of one command, and no path given twice.

    Parameters
    ----------
    outputs : dict
        Option -> output path (``None`` for an output not asked for), e.g. ``{"-o": ..., "--explain": ...}``.
    inputs : iterable of path-like or None
        The command's inputs.
    force : bool
        Allow replacing existing outputs.
    """
    inputs = list(inputs)
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise InputError(f"{path}: given both as {seen[key]} and as {option}; give two different files")
        seen[key] = option
        check_output(path, inputs, force, option=option)


def check_extension(path: PathLike, allowed: Iterable[str], option: str) -> Path:
    """Refuse an output whose suffix is not one of ``allowed``, before any work is done.

    Parameters
    ----------
    path : path-like
        The output file.
    allowed : iterable of str
        Suffixes with their dot, lower case (``.png``); the check ignores case.
    option : str
        The option that named the file, for the message.

    Returns
    -------
    pathlib.Path
        ``path`` as a Path.
    """
    path = Path(path)
    allowed = tuple(allowed)
    if path.suffix.lower() not in allowed:
        got = f"'{path.suffix}'" if path.suffix else "no extension"
        raise InputError(f"{path} ({option}): {got} is not a supported format; use {', '.join(allowed)}")
    return path


def fsync_folder(folder: PathLike) -> None:
    """Flush a folder's entries (a rename in it) to disk; a no-op where folders cannot be opened.

    Parameters
    ----------
    folder : path-like
        The folder.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not on Linux
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    """Flush one file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: PathLike, path: PathLike) -> None:
    """Put a complete temporary file in place: fsync it, rename it to ``path``, fsync the folder.

    Parameters
    ----------
    tmp : path-like
        The complete temporary file (closed).
    path : path-like
        Its final name; an ``OSError`` becomes a one-line ``InputError`` naming it.
    """
    try:
        _fsync_file(Path(tmp))
        os.replace(tmp, path)
        fsync_folder(Path(path).parent)
    except OSError as err:
        raise InputError(os_error_message(err, path)) from None


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path beside ``path``, put in place only if the block ends without error.

    On success the temporary is fsynced and renamed to ``path``, then the folder is fsynced (``commit``). On an
    error the temporary is removed and ``path`` is untouched; an ``OSError`` becomes a one-line ``InputError``.

    Parameters
    ----------
    path : path-like
        The final file.

    Yields
    ------
    pathlib.Path
        The temporary path to write.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        commit(tmp, path)
    except OSError as err:
        raise InputError(os_error_message(err, err.filename or path)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator:
    """``open`` a temporary file beside ``path`` for writing; renamed into place (after fsync) on success.

    Parameters
    ----------
    path : path-like
        The final file.
    mode : str
        A writing mode (``"w"``, ``"wb"``).
    **kwargs
        Passed to ``open`` (``newline=""`` for the csv module).

    Yields
    ------
    file object
        The open temporary file.
    """
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f
        f.flush()


def write_bytes_atomically(path: PathLike, data: bytes) -> None:
    """Write a whole file through a temporary name, fsync and a rename: it is either complete or absent.

    Parameters
    ----------
    path : path-like
        The final file (replaced if it exists: callers check ``--force`` with ``check_output`` first).
    data : bytes
        Its whole content.
    """
    with atomic_open(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def output_directory(path: PathLike, inputs: Iterable[PathLike | None] = (), force: bool = False) -> Iterator[Path]:
    """Build a folder of results aside and swap it in only when complete.

    Yields a temporary sibling folder (``.NAME.PID.building``) to write into. When the block ends without
    error, an existing ``path`` (allowed only with ``force``) is moved aside, the new folder renamed into
    place, and the old one removed. On an error (or Ctrl-C) the temporary folder is removed and ``path``
    is left as it was: no empty or half-written folder ever appears.

    Parameters
    ----------
    path : path-like
        The results folder.
    inputs : iterable of path-like or None
        The command's inputs: the folder may be neither one of them nor hold one.
    force : bool
        Allow replacing an existing folder.
    """
    path = check_output(path, inputs, force, folder=True)
    building = temporary_name(path, "building")
    shutil.rmtree(building, ignore_errors=True)
    try:
        building.mkdir()
    except OSError as err:
        raise InputError(os_error_message(err, path)) from None
    try:
        yield building
        for entry in building.iterdir():
            if entry.is_file():
                _fsync_file(entry)
        old = temporary_name(path, "replaced")
        moved = path.exists() or path.is_symlink()
        if moved:
            os.rename(path, old)
        try:
            os.rename(building, path)
        except OSError:
            if moved:
                os.rename(old, path)
            raise
        fsync_folder(path.parent)
        if old.is_symlink() or old.is_file():
            old.unlink()
        elif old.exists():
            shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        raise InputError(os_error_message(err, err.filename or path)) from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
