"""Reading a value at a path of keys inside nested dictionaries (benchmark records, results files)."""

from __future__ import annotations

from typing import Any

__all__ = ["nested_get"]


def nested_get(record: Any, *path: str) -> Any:
    """``record[path[0]][path[1]]...``, or None where a key is missing or a level is not a dict."""
    node: Any = record
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
