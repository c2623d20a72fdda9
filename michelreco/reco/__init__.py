"""One event, from voxels to Michel voxels.

The flow, one module a step: ``canonical`` (voxels in position order, threshold) -> ``graph`` (neighbour lists
and connected clusters) -> ``track`` (skeleton chains, dE/dx profiles, Bragg peaks) -> ``candidates`` (the
activity past each Bragg peak, with its features) -> ``rules`` (the selection) -> ``finder`` (``MichelFinder``,
which runs them all). ``energy`` measures the Michels found.
"""
