"""Streamlit page helpers for ``app.py``: layout and widgets only; numbers come from the package."""
