"""Built-in tasks at Prefect 1's ``tasks.core`` paths: ``constants`` (Constant),
``collections`` (List, Tuple, Set, Dict, VarArgsTask), ``operators`` (what
``a + b``, ``a[k]`` build, and GetAttr), ``function`` (FunctionTask) and
``resource_manager``.

The first four are the tasks the model makes by itself, so they are defined in
``perfect_nb.core`` (``core.implicit``, and ``core.task`` for FunctionTask) and
only re-exported here: ``tasks/`` imports ``core/``, never the other way round."""
