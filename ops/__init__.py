"""Operations: what a cron job or a research cluster calls, above ``backtest``.

The top layer of the package (``ops -> backtest -> index -> universe -> core``): the daily
calculation run (``calc_run``, ``calc_output``), the operator's day (``daily_run``:
announcements by ``announce``, then the calculation), the scheduled rebalance run (``scheduled_run``:
idempotent revisions, lock, manifest) and its log lines (``runlog``), and Dask sweeps of
methodology variants (``sweep``). Import the modules themselves (``exchina.ops.sweep``); this
package imports nothing, so ``import exchina.ops`` stays cheap.
"""
