"""The app's entry script for ``exchina app`` (the same as the repository's ``app.py``, shipped
inside the package so an installed exchina can open its app)."""

from exchina.ui.navigation import main

main()
