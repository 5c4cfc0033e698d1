"""exchina's Streamlit app: ``streamlit run app.py``. Layout lives in ``exchina.ui``."""

from exchina.ui.navigation import main

main()
