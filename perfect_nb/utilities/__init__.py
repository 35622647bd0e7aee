"""Helpers beside the engine, at Prefect 1's paths: ``edges`` (unmapped, flatten),
``notifications``, ``collections`` (DotDict), ``debug`` (raise_on_exception,
is_serializable) and ``tasks`` (task, defaults_from_attrs, pause_task)."""
