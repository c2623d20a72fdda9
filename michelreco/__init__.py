"""michelreco: classical Michel-electron finder for voxelized liquid-argon events.

The INSS 2025 "Find Michels!" challenge (DeepLearnPhysics): for each event, an (N, 4) array of voxels
(x, y, z as 3 mm voxel indices, energy in MeV), list the indices of the voxels that belong to Michel electrons.

The subpackages follow the data (``docs/architecture.md``):

- ``reco``: one event, from voxels to Michel voxels (canonical order, neighbour graph, skeletons, candidates,
  selection, the finder);
- ``run``: whole files (reading and writing, worker pools and Dask, checkpoints, parameter sweeps);
- ``analysis``: judging and showing results (scores, spectrum, displays, report);
- ``sim``: the simulator that writes labelled events in the challenge format;
- ``bench``: speed measurements and the scikit-learn-exact DBSCAN they compare against;
- ``cli``: the commands.
"""

__version__ = "0.2.0"

__all__ = ["__version__", "MichelFinder", "read_event", "read_labels", "iter_events", "score_files"]


def __getattr__(name: str):
    """Import the public entry points on first use, so ``import michelreco`` stays light."""
    if name == "MichelFinder":
        from michelreco.reco.finder import MichelFinder
        return MichelFinder
    if name in ("read_event", "read_labels", "iter_events"):
        from michelreco.run import io
        return getattr(io, name)
    if name == "score_files":
        from michelreco.analysis.metrics import score_files
        return score_files
    raise AttributeError(f"module 'michelreco' has no attribute {name!r}")
