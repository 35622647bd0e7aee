"""Tasks the engine builds for you: constants, collections of tasks, operators."""
