"""Many trainings at once: `symnn.sweep(...)` and `symnn sweep`, fanned out on joblib or Dask.

plan (the grid and the runs) -> precompile (each distinct kernel set, once, in the parent) ->
engines (joblib's loky processes, or its Dask backend) -> worker (one run, in whichever process)
-> results (the JSON-lines file) -> summary and plot (what a person reads).

The package is `sweeps` so that `symnn.sweep` stays the function.
"""

from symnn.sweeps.api import sweep
from symnn.sweeps.summary import SweepResult

__all__ = ["SweepResult", "sweep"]
