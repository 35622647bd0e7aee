"""``python -m perfect_nb``: the ``perfect`` command (see :mod:`perfect_nb.cli`)."""

from perfect_nb.cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m perfect_nb"))
