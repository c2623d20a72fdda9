"""Judging and showing results: ``metrics`` (F1 over voxels), ``spectrum`` (Michel energies against the toy
Monte Carlo), ``display`` (3D event views), ``report`` (the HTML page), ``plots`` (shared matplotlib helpers)."""
