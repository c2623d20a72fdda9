"""Measuring: ``speed`` (finder and whole-run benchmarks) and ``dbscan`` (the scikit-learn-exact DBSCAN that
our neighbour graph is compared with)."""
