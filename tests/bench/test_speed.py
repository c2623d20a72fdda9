"""michelreco.bench.speed: what the benchmarks measure is the finder's work, and whole runs account for it."""

import math

import numpy as np
import pytest

from michelreco.bench.speed import (STAGES, READ_LAYOUTS, _skeletons, bench_finder, bench_read_layouts, bench_run,
                                    bench_stages)
from michelreco.reco.canonical import canonical_voxels
from michelreco.reco.finder import MichelFinder
from michelreco.reco.graph import voxel_graph
from michelreco.reco.track import cluster_skeleton


def test_stages_time_the_finder_s_own_work(sim_sample):
    _, events, _ = sim_sample
    events = events[:12]
    out = bench_stages(events, repeats=1)
    assert list(out["ms_per_event"]) == list(STAGES)
    assert all(v >= 0 for k, v in out["ms_per_event"].items() if k != "candidates and features")
    assert math.isclose(out["total_ms"], sum(out["ms_per_event"].values()))
    finder = MichelFinder()
    expected = np.mean([finder.candidates(x)[1].shape[0] for x in events])
    assert out["candidates_per_event"] == pytest.approx(expected)          # the same candidates as find's


def test_skeleton_stage_builds_the_skeleton_of_every_analysed_cluster(sim_sample):
    _, events, _ = sim_sample
    for xyze in events[:8]:
        _, xyz, xyz_f, _ = canonical_voxels(xyze, 0.0)
        labels, indptr, nbrs = voxel_graph(xyz, 1.8, validate=False)
        n = len(xyz)
        work = [np.full(n, -1, np.int64) for _ in range(3)]
        chains = 0
        for c in range(labels.max() + 1 if n else 0):
            members = np.flatnonzero(labels == c)
            if len(members) >= 8:
                chains += len(cluster_skeleton(members, xyz_f, indptr, nbrs, *work, 6, 12)[1]) - 1
        assert _skeletons(xyz_f, labels, indptr, nbrs, 8, 6, 12) == chains


def test_finder_rate_is_cpu_time_of_the_events(sim_sample):
    _, events, _ = sim_sample
    out = bench_finder(events[:10], repeats=2)
    assert out["events"] == 10 and out["seconds_min"] <= out["seconds_median"] <= out["seconds_max"]
    assert out["events_per_s"] == pytest.approx(10 / out["seconds_median"])


def test_every_read_layout_reads_back_the_same_values(sim_sample, tmp_path):
    paths, events, _ = sim_sample
    rows = bench_read_layouts(paths.xyze, 30, blocks=(7, 30), repeats=1, tmpdir=tmp_path)
    assert len(rows) == 2 * len(READ_LAYOUTS)
    assert {r["values"] for r in rows} == {sum(x.size for x in events[:30])}
    assert len({r["checksum"] for r in rows}) == 1
    assert not list(tmp_path.iterdir())                                   # the copies are removed


def test_whole_run_accounts_for_the_finder_and_traces_memory_per_range(sim_sample):
    paths, events, _ = sim_sample
    out = bench_run(paths.xyze, 1, stop=40, chunk=10)
    assert out["events"] == 40 and out["finder_cpu_s"] > 0 and out["read_cpu_s"] >= 0
    assert out["overhead"] == pytest.approx((out["read_cpu_s"] + out["parent_cpu_s"]) / out["finder_cpu_s"])
    assert [t[0] for t in out["rss_trace"]] == [0, 10, 20, 30]            # every range, in order
    assert all(rss > 50 and peak > 50 for _, rss, peak in out["rss_trace"])      # MB: a Python with numba
    assert out["rss_first_mb"] == out["rss_trace"][0][1] and out["peak_worker_rss_mb"] > 0
