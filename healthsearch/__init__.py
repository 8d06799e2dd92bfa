"""healthsearch: semantic search over consumer health content.

Public API::

    from healthsearch import Searcher, build_index, BuildSettings
    Searcher.open("index").search("heel pain after running", k=10, mode="hybrid")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["BuildReport", "BuildSettings", "Result", "Searcher", "build_index"]

if TYPE_CHECKING:
    from .build import BuildReport, build_index
    from .config import BuildSettings
    from .search import Result, Searcher

_LAZY = {
    "Searcher": "search",
    "Result": "search",
    "build_index": "build",
    "BuildReport": "build",
    "BuildSettings": "config",
}


def __getattr__(name: str) -> Any:
    """Import heavy modules (torch, faiss) only when their names are used."""
    if name not in _LAZY:
        raise AttributeError(f"module 'healthsearch' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_LAZY[name]}", __name__), name)
