"""michelreco: classical Michel-electron finder for voxelized liquid-argon events.

The INSS 2025 "Find Michels!" challenge (DeepLearnPhysics): for each event, an (N, 4)
array of voxels (x, y, z in 3 mm voxel units, energy in MeV), list the indices of the
voxels that belong to Michel electrons.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
