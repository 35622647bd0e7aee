"""Built-in tasks: ``tasks.core`` (constants, collections, operators), ``tasks.control_flow``,
and Prefect 1's task library: ``shell`` (ShellTask), ``templates`` (StringFormatter,
JinjaTemplate), ``database.sqlite``, ``files`` and ``secrets``."""
