"""Tasks the engine builds for you, at Prefect 1's ``tasks.core`` paths: ``constants``
(Constant), ``collections`` (List, Tuple, Set, Dict, VarArgsTask), ``operators`` (what
``a + b``, ``a[k]`` build, and GetAttr), ``function`` (FunctionTask) and
``resource_manager``."""
