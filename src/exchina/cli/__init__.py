"""The ``exchina`` command line: a thin shell over the package (typer).

Each command group lives in its own module and registers itself on ``app``. ``main`` maps typed
errors (``exchina.core.errors``) to their documented exit codes with a one-line message.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from exchina.core.errors import ExchinaError

app = typer.Typer(
    name="exchina",
    help="Build, run and explain an ex-China rare-earth supply-chain equity index.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from exchina.cli import (
        app_cmds,
        backtest_cmds,
        calc_cmds,
        data_cmds,
        facts_cmds,
        index_cmds,
        ops_cmds,
        store_cmds,
        sweep_cmds,
        universe_cmds,
    )

    for module in (
        data_cmds,
        store_cmds,
        universe_cmds,
        facts_cmds,
        index_cmds,
        backtest_cmds,
        calc_cmds,
        ops_cmds,
        sweep_cmds,
        app_cmds,
    ):
        module.register(app)


def _version(value: bool) -> None:
    if value:
        from exchina import __version__

        typer.echo(f"exchina {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: bool = typer.Option(
        False, "--debug", help="Show the Python traceback of an unexpected error."
    ),
) -> None:
    """Build, run and explain an ex-China rare-earth supply-chain equity index."""


@app.command("exit-codes")
def exit_codes() -> None:
    """List the exit codes every command uses, for schedulers and scripts."""
    from exchina.core.errors import EXIT_CODES

    for code, meaning in EXIT_CODES.items():
        typer.echo(f"{code}  {meaning}")


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: run, map typed errors to exit codes, exit.

    Every failure is one line on stderr and a documented exit code (``exchina exit-codes``);
    ``--debug`` (anywhere on the line) re-raises instead, showing the traceback.
    """
    from exchina.core.atomic import os_error
    from exchina.core.quiet import silence_solver_banner

    silence_solver_banner()

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="exchina")
        code = 0
    except ExchinaError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        code = 130
    except OSError as exc:
        if debug:
            raise
        err = os_error(exc)
        typer.echo(f"error: {err}", err=True)
        code = err.exit_code
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback and report it)",
            err=True,
        )
        code = 1
    if argv is None:
        sys.exit(code)
    return code
