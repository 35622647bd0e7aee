"""Helpers that sit beside the engine: ``edges`` (unmapped, flatten) and ``notifications``."""
