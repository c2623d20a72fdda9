"""The output rule: never an input, never half-written, replaced only with force, folders swapped in whole."""

import errno
import os

import pytest

from michelreco.errors import InputError
from michelreco.run.outputs import (atomic_open, check_extension, check_output, check_outputs, os_error_message,
                                    output_directory, write_bytes_atomically)


@pytest.fixture
def an_input(tmp_path):
    path = tmp_path / "in_xyze.h5"
    path.write_bytes(b"precious")
    return path


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink", "relative"])
def test_an_input_is_refused_even_with_force(an_input, tmp_path, link, monkeypatch):
    out = {"same": an_input, "symlink": tmp_path / "sym.h5", "hardlink": tmp_path / "hard.h5",
           "relative": "in_xyze.h5"}[link]
    if link == "symlink":
        out.symlink_to(an_input)
    elif link == "hardlink":
        os.link(an_input, out)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="is the input .*even with --force"):
        check_output(out, [None, an_input], force=True)
    assert an_input.read_bytes() == b"precious"


def test_existing_output_needs_force_and_folders_must_exist(an_input, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(InputError, match="exists; use --force"):
        check_output(out, [an_input])
    assert check_output(out, [an_input], force=True) == out
    with pytest.raises(InputError, match="no such folder"):
        check_output(tmp_path / "nope" / "x.csv")
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path, force=True)
    with pytest.raises(InputError, match="given both as -o and as --explain"):
        check_outputs({"-o": tmp_path / "a.h5", "--explain": tmp_path / "." / "a.h5"}, [an_input], force=True)


def test_unwritable_folder_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(InputError, match="cannot write in this folder"):
            check_output(ro / "x.h5")
    finally:
        ro.chmod(0o700)


def test_extension_checked():
    assert check_extension("a.PNG", (".png", ".pdf"), "--plot").name == "a.PNG"
    with pytest.raises(InputError, match="'.jpg' is not a supported format; use .png, .pdf"):
        check_extension("a.jpg", (".png", ".pdf"), "--plot")
    with pytest.raises(InputError, match="no extension"):
        check_extension("a", (".png",), "--plot")


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    out = tmp_path / "x.txt"
    write_bytes_atomically(out, b"one")
    with pytest.raises(RuntimeError):
        with atomic_open(out) as f:
            f.write("half")
            raise RuntimeError("stop")
    assert out.read_bytes() == b"one" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
    write_bytes_atomically(out, b"two")
    assert out.read_bytes() == b"two" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_output_directory_is_swapped_in_whole(an_input, tmp_path):
    out = tmp_path / "results"
    with output_directory(out, [an_input]) as d:
        (d / "a.txt").write_text("1")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(InputError, match="exists; use --force"):
        with output_directory(out, [an_input]):
            pass
    with pytest.raises(RuntimeError):                       # a failed rerun keeps the previous results
        with output_directory(out, [an_input], force=True) as d:
            (d / "b.txt").write_text("2")
            raise RuntimeError("failed")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    with output_directory(out, [an_input], force=True) as d:
        (d / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    with pytest.raises(RuntimeError):                       # a failed first run leaves no empty folder
        with output_directory(tmp_path / "new", [an_input]):
            raise RuntimeError("failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in_xyze.h5", "results"]


def test_output_directory_holding_an_input_is_refused(an_input, tmp_path):
    with pytest.raises(InputError, match="holds the input"):
        with output_directory(tmp_path, [an_input], force=True):
            pass
    assert an_input.read_bytes() == b"precious"


def test_os_errors_read_in_user_terms(tmp_path):
    err = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / f".sol.h5.{os.getpid()}.partial"))
    msg = os_error_message(err)
    assert msg == f"{tmp_path / 'sol.h5'}: no space left on the disk"
    assert "Errno" not in msg and "partial" not in msg
