"""Browser tests of the notebook layer (JupyterLab + Playwright + Debian Chromium)."""
