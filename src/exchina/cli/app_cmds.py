"""CLI command: ``exchina app`` opens the Streamlit app.

Streamlit is started in this process with the app's settings as flags (no first-run e-mail
prompt, no usage statistics, the investor toolbar), so the command works the same from any folder.
While the server starts, a background thread imports the package modules the pages need, so the
first page does not wait for them.
"""

from __future__ import annotations

import sys
import threading
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


def _warm() -> None:
    """Import the libraries every page needs (cvxpy, pandas, plotly): seconds saved on the first
    page. The app's own modules are left to the page (Streamlit's caches need its runtime)."""
    import plotly.graph_objects  # noqa: F401

    import exchina.backtest
    import exchina.index.rebalance  # noqa: F401


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
        threading.Thread(target=_warm, name="exchina-warm", daemon=True).start()
        flags = {**APP_OPTIONS, "server.port": str(port), "server.headless": str(headless).lower()}
        sys.argv = ["streamlit", "run", str(script)]
        for k, v in flags.items():
            sys.argv += [f"--{k}", v]
        stcli.main(prog_name="streamlit")
