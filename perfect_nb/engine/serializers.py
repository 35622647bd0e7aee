"""Serializers turn a result value into bytes and back.

>>> JSONSerializer().deserialize(JSONSerializer().serialize({"a": 1}))
{'a': 1}
"""

from __future__ import annotations

import abc
import io
import json
from typing import Any

__all__ = ["JSONSerializer", "PandasSerializer", "PickleSerializer", "Serializer"]


class Serializer(abc.ABC):
    """Base class: ``serialize(value) -> bytes`` and ``deserialize(bytes) -> value``."""

    @abc.abstractmethod
    def serialize(self, value: Any) -> bytes:
        """The bytes that stand for ``value``."""

    @abc.abstractmethod
    def deserialize(self, data: bytes) -> Any:
        """The value ``data`` stands for."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = object.__hash__


class PickleSerializer(Serializer):
    """cloudpickle: any Python object, including lambdas and notebook classes."""

    def serialize(self, value: Any) -> bytes:
        import cloudpickle

        return cloudpickle.dumps(value)

    def deserialize(self, data: bytes) -> Any:
        import pickle

        return pickle.loads(data)


class JSONSerializer(Serializer):
    """JSON text (UTF-8): readable, for plain data."""

    def serialize(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def deserialize(self, data: bytes) -> Any:
        return json.loads(data.decode())


class PandasSerializer(Serializer):
    """A pandas DataFrame as ``parquet`` or ``csv``."""

    def __init__(self, file_type: str = "parquet", serialize_kwargs: dict | None = None, deserialize_kwargs: dict | None = None) -> None:
        if file_type not in ("parquet", "csv"):
            raise ValueError(f"PandasSerializer file_type must be 'parquet' or 'csv', got {file_type!r}.")
        self.file_type = file_type
        self.serialize_kwargs = serialize_kwargs or {}
        self.deserialize_kwargs = deserialize_kwargs or {}

    def serialize(self, value: Any) -> bytes:
        if not hasattr(value, "to_parquet" if self.file_type == "parquet" else "to_csv"):
            raise TypeError(f"PandasSerializer writes a pandas DataFrame, got {type(value).__name__}; use PickleSerializer for other values.")
        buffer = io.BytesIO()
        if self.file_type == "parquet":
            value.to_parquet(buffer, **self.serialize_kwargs)
        else:
            value.to_csv(buffer, **{"index": False, **self.serialize_kwargs})
        return buffer.getvalue()

    def deserialize(self, data: bytes) -> Any:
        import pandas as pd

        reader = pd.read_parquet if self.file_type == "parquet" else pd.read_csv
        return reader(io.BytesIO(data), **self.deserialize_kwargs)
