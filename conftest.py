"""Every test, doctest and notebook runs with its own empty $PERFECT_NB_HOME, so a user's
config.toml (a configured backend, a token) never changes what the suite sees."""

import os
import tempfile


def pytest_configure(config):
    for name in [n for n in os.environ if n.startswith(("PERFECT_NB__", "PREFECT__"))]:
        del os.environ[name]
    os.environ.pop("PERFECT_NB_DATABASE_URL", None)
    os.environ["PERFECT_NB_HOME"] = tempfile.mkdtemp(prefix="perfect_nb_home_")
