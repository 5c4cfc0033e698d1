"""exchina: build, run and explain an ex-China rare-earth and critical-minerals equity index.

Layers (imports point down only): ``exchina.backtest`` -> ``exchina.index`` ->
``exchina.universe`` -> ``exchina.core``. The CLI (``exchina.cli``) and ``app.py`` sit on top.
"""

__version__ = "0.1.0"
