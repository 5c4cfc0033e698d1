"""CLI command: ``exchina app`` opens the Streamlit app.

Streamlit is started in this process with the app's settings as flags (no first-run e-mail
prompt, no usage statistics, the investor toolbar), so the command works the same from any folder.
While the server starts, a background thread imports what the pages need and fills the app's
caches for the first page (from the disk cache on a relaunch), so the first page does not wait.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

# the settings of .streamlit/config.toml (used by `streamlit run app.py`), as command-line flags
APP_OPTIONS: dict[str, str] = {
    "browser.gatherUsageStats": "false",
    "server.showEmailPrompt": "false",
    "client.toolbarMode": "viewer",
    "server.maxUploadSize": "2",
    "theme.primaryColor": "#1f5f99",
}


WARM_THREAD = "exchina-warm"  # an app thread (exchina.ui.progress.THREAD_PREFIX): kept quiet


def _warm() -> None:
    """Ready the first page while the server starts: import the libraries it needs (pandas,
    pyarrow, pydantic: seconds), then, once Streamlit's runtime exists (the app's caches live
    there), make one throwaway element and chart (each has a one-time setup cost) and fill the
    caches for the flagship (``exchina.ui.data.warm``: read from the disk cache on a relaunch).
    A failure here is left to the page, which shows it."""
    import pandas as pd
    from streamlit import runtime

    import exchina.backtest.result
    import exchina.core.resultcache
    import exchina.index.methodology  # noqa: F401
    from exchina.core.errors import ExchinaError

    deadline = time.monotonic() + 120
    while not runtime.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)
    import streamlit as st

    from exchina.ui import charts, data, progress  # progress: no warning about this thread

    st.empty()  # Streamlit's first element in a process inspects the call stack (0.5 s): spent here
    index = pd.date_range("2020-01-01", periods=2)
    charts.lines(pd.DataFrame({"warm": [1.0, 2.0]}, index=index), "", "", log=True)
    progress.quiet_app_threads()
    with contextlib.suppress(ExchinaError):
        data.warm()


def register(app: typer.Typer) -> None:
    @app.command("app")
    def open_app(
        port: Annotated[int, typer.Option("--port", help="Port to serve the app on.")] = 8501,
        headless: Annotated[
            bool,
            typer.Option(
                "--headless/--browser",
                help="Only serve the app (--headless) or also open it in the browser.",
            ),
        ] = False,
    ) -> None:
        """Open the Streamlit app (on the store's prices, else the synthetic demo market)."""
        from streamlit.web import cli as stcli

        script = Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"
        threading.Thread(target=_warm, name=WARM_THREAD, daemon=True).start()
        flags = {**APP_OPTIONS, "server.port": str(port), "server.headless": str(headless).lower()}
        sys.argv = ["streamlit", "run", str(script)]
        for k, v in flags.items():
            sys.argv += [f"--{k}", v]
        stcli.main(prog_name="streamlit")
