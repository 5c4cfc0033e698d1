"""Operations: scheduled runs (idempotent revisions, lock, manifest), their log lines, and sweeps.

The top layer of the package (``ops -> backtest -> index -> universe -> core``): what a cron job
or a research cluster calls. ``run_scheduled`` writes the index's revisions; ``run_sweep``
backtests a grid of methodology variants on Dask.
"""

from exchina.ops.runlog import RunLog
from exchina.ops.scheduled_run import run_scheduled, schedule_table, verify_output
from exchina.ops.sweep import expand_grid, load_grid, run_sweep, write_sweep

__all__ = [
    "RunLog",
    "expand_grid",
    "load_grid",
    "run_scheduled",
    "run_sweep",
    "schedule_table",
    "verify_output",
    "write_sweep",
]
