"""Keeping third-party noise out of the user's terminal.

HiGHS (the MILP solver behind cvxpy) prints a copyright banner on stdout from C++ the first time
a solver is created in a process, whatever cvxpy's ``verbose``; ``silence_solver_banner`` creates
that first solver with the process's stdout pointed at the null device, so later ones are quiet.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys


@functools.cache
def silence_solver_banner() -> None:
    """Spend HiGHS's one-time banner on the null device (once a process; no-op without HiGHS)."""
    try:
        import highspy
    except ImportError:
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
