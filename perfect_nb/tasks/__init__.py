"""Built-in tasks: ``tasks.core`` (constants, collections, operators) and ``tasks.control_flow``."""
