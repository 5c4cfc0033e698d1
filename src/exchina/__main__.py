"""``python -m exchina`` runs the CLI."""

from exchina.cli import main

main()
