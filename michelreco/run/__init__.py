"""Whole files: ``io`` (challenge HDF5, checked; atomic writers), ``parallel`` (worker pools, Dask),
``checkpoint`` (resumable runs), ``sweep`` (parameter tuning against labels)."""
