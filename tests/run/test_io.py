"""Challenge-format reading, writing and input checks."""

import h5py
import numpy as np
import pytest

from michelreco.errors import InputError
from michelreco.run.io import (RowWriter, event_count, iter_events, iter_labels, label_path_for, read_event,
                           read_labels, read_solution, iter_solution, solution_dataset_name, write_solution)


def _write_raw(path, name, rows, dtype):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(name, (len(rows),), dtype=h5py.vlen_dtype(dtype))
        for i, r in enumerate(rows):
            ds[i] = np.asarray(r, dtype=dtype)


def test_events_and_labels_round_trip_blockwise(tiny_sample):
    xyze, lab, events, labels = tiny_sample
    assert event_count(xyze) == 6
    got = list(iter_events(xyze, block=4))          # block boundary inside the file
    assert [i for i, _ in got] == list(range(6))
    for (_, a), b in zip(got, events):
        assert a.dtype == np.float32 and a.shape == b.shape and np.array_equal(a, b)
    assert np.array_equal(read_event(xyze, 3), events[3])
    assert read_event(xyze, 1).shape == (0, 4)
    assert np.array_equal(read_labels(lab, 5), labels[5])
    assert [i for i, _ in iter_labels(lab, 2, 5, block=2)] == [2, 3, 4]


def test_solution_round_trip_with_empty_rows(tmp_path):
    rows = [np.array([3, 1, 2]), np.array([], int), np.array([0]), np.array([], int), np.arange(1500)]
    path = tmp_path / "sol.h5"
    write_solution(path, rows)
    back = [r for _, r in iter_solution(path, block=2)]
    assert len(back) == len(rows)
    for a, b in zip(back, rows):
        assert a.dtype == np.int32 and np.array_equal(a, b)
    assert np.array_equal(read_solution(path, 4), rows[4])
    with h5py.File(path) as f:
        assert list(f) == ["solution"]


def test_solution_dataset_name_found_whatever_its_name(tmp_path):
    path = tmp_path / "sol.h5"
    _write_raw(path, "whatever", [[1, 2], []], np.int32)
    assert solution_dataset_name(path) == "whatever"
    with h5py.File(path, "a") as f:
        f.create_dataset("other", (1,), dtype=h5py.vlen_dtype(np.int64))
    with pytest.raises(InputError, match="--dataset-name"):
        solution_dataset_name(path)
    assert solution_dataset_name(path, "other") == "other"
    with pytest.raises(InputError, match="no dataset 'nope'"):
        solution_dataset_name(path, "nope")


@pytest.mark.parametrize("rows, message", [
    ([[1, 2, 3, 4, 5]], "not a multiple of 4"),
    ([[1, 2, 3, np.nan]], "non-finite"),
    ([[1, 2, 768, 1.0]], "outside 0..767"),
    ([[-1, 2, 3, 1.0]], "outside 0..767"),
    ([[1, 2, 10.5, 1.0]], r"voxel 0 \(1, 2, 10.5\): coordinates are not whole voxel indices"),
    ([[1, 2, 3, -0.2]], "negative energy"),
    ([[1, 2, 3, 1.0, 4, 5, 6, 1.0, 1, 2, 3, 0.5]], r"voxel 2 \(1, 2, 3\): listed twice \(also voxel 0\)"),
])
def test_bad_event_rows_are_refused(tmp_path, rows, message):
    path = tmp_path / "bad_xyze.h5"
    _write_raw(path, "data", rows, np.float32)
    with pytest.raises(InputError, match=message) as err:
        list(iter_events(path))
    assert "event 0" in str(err.value)


def test_missing_file_not_hdf5_missing_dataset(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        event_count(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        event_count(junk)
    path = tmp_path / "x.h5"
    _write_raw(path, "labels", [[1]], np.int32)
    with pytest.raises(InputError, match=r"no dataset 'data' \(datasets: labels\): this is a label file, where an "
                                         r"events file was expected \(the wrong file, or files in the wrong order\?\)"):
        event_count(path)
    events = tmp_path / "e.h5"
    _write_raw(events, "data", [[1, 2, 3, 1.0]], np.float32)
    with pytest.raises(InputError, match=r"no dataset 'labels' \(datasets: data\): this is an events file, where a "
                                         "label file was expected"):
        event_count(events, "labels")
    _write_raw(path, "other", [[1]], np.int32)       # a file of no known kind: no guess
    with pytest.raises(InputError, match=r"no dataset 'data' \(datasets: other\)$"):
        event_count(path)


def test_label_values_checked(tmp_path):
    path = tmp_path / "lab.h5"
    _write_raw(path, "labels", [[0, 1, 5]], np.int32)
    with pytest.raises(InputError, match="label values outside 0..4"):
        list(iter_labels(path))


def test_bad_event_range(tiny_sample):
    xyze = tiny_sample[0]
    with pytest.raises(InputError, match="beyond the 6 events"):
        list(iter_events(xyze, 2, 9))
    with pytest.raises(InputError, match="bad event range"):
        list(iter_events(xyze, 4, 2))


def test_writer_refuses_existing_and_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "sol.h5"
    path.write_text("keep me")
    with pytest.raises(InputError, match="exists; use --force"):
        RowWriter(path, 2)
    assert path.read_text() == "keep me"
    out = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with RowWriter(out, 3) as w:
            w.append([1])
            raise RuntimeError("crash in the middle")
    assert not out.exists() and list(tmp_path.iterdir()) == [path]
    with pytest.raises(ValueError, match="only 1 of 3 rows"):
        with RowWriter(out, 3) as w:
            w.append([1])
    assert list(tmp_path.iterdir()) == [path]
    with RowWriter(path, 1, force=True) as w:
        w.append([4, 5])
    assert np.array_equal(read_solution(path, 0), [4, 5])


def test_label_path_for():
    assert label_path_for("/d/train_xyze_1e4.h5").name == "train_label_1e4.h5"
    with pytest.raises(InputError, match="cannot guess"):
        label_path_for("/d/events.h5")


def test_row_check_accepts_good_events_and_finds_late_problems():
    from michelreco.run.io import EventError, check_xyze_row

    rng = np.random.default_rng(4)
    keys = rng.choice(768 ** 3, 5000, replace=False)
    xyz = np.stack(np.unravel_index(keys, (768, 768, 768)), axis=1)
    event = np.column_stack([xyz, rng.uniform(0, 3, 5000)]).astype(np.float32)
    assert np.array_equal(check_xyze_row(event.ravel(), 0), event)
    assert check_xyze_row(np.zeros(0, np.float32), 0).shape == (0, 4)
    dup = np.concatenate([event, event[1234:1235]])
    with pytest.raises(EventError, match="voxel 5000 .* listed twice \\(also voxel 1234\\)") as err:
        check_xyze_row(dup.ravel(), 9, "f.h5")
    assert err.value.event == 9 and str(err.value).startswith("f.h5: event 9: ")
    corner = event.copy()
    corner[-1, :3] = 767
    corner[-2, :3] = 0
    check_xyze_row(corner.ravel(), 0)                   # the grid's corners are inside


def test_truncated_and_damaged_files_are_named(tiny_sample, tmp_path):
    xyze = tiny_sample[0]
    data = xyze.read_bytes()
    for frac in (0.3, 0.9):
        cut = tmp_path / f"cut{frac}_xyze.h5"
        cut.write_bytes(data[:int(len(data) * frac)])
        with pytest.raises(InputError, match=f"{cut.name}: truncated HDF5 file"):
            list(iter_events(cut))
    damaged = tmp_path / "damaged_xyze.h5"
    damaged.write_bytes(data[:len(data) // 2] + b"\xff" * (len(data) - len(data) // 2))
    with pytest.raises(InputError, match=f"{damaged.name}: "):
        list(iter_events(damaged))


def test_writer_fsyncs_renames_and_refuses_an_input(tmp_path, monkeypatch):
    import os

    from michelreco.run import outputs

    synced = []
    real = os.fsync
    monkeypatch.setattr(outputs.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    path = tmp_path / "sol.h5"
    write_solution(path, [[1], []])
    assert len(synced) >= 2                           # the file, then its folder
    assert [p.name for p in tmp_path.iterdir()] == ["sol.h5"]
    with pytest.raises(InputError, match="is the input"):
        RowWriter(path, 1, force=True, inputs=[path])
    assert np.array_equal(read_solution(path, 0), [1])
