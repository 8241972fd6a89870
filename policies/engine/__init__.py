"""netviz's evaluation engine: pure Python, never imports Django.

snapshot = load_paths(["manifests/"])      # raises ManifestErrors with every located error
conn = evaluate(snapshot)                  # Connectivity
for flow in conn.flows(): ...              # Flow(src, dst, ports)

The names below are imported on first use (PEP 562), so that `netviz analyze`, which needs
neither explain nor diff, does not pay for loading them.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connectivity import Connectivity, Endpoint, Flow, evaluate, reevaluate
    from .diff import ConnectivityDiff, FlowChange, diff
    from .errors import ManifestError, ManifestErrors, NetvizError
    from .explain import Explanation, explain
    from .intervals import PortSet
    from .manifests import assemble, load_documents, load_paths
    from .model import (
        ClusterNetworkPolicy,
        ContainerPort,
        Diagnostic,
        Location,
        Namespace,
        NetworkPolicy,
        Snapshot,
        Workload,
    )

_HOMES = {
    "connectivity": ("Connectivity", "Endpoint", "Flow", "evaluate", "reevaluate"),
    "diff": ("ConnectivityDiff", "FlowChange", "diff"),
    "errors": ("ManifestError", "ManifestErrors", "NetvizError"),
    "explain": ("Explanation", "explain"),
    "intervals": ("PortSet",),
    "manifests": ("assemble", "load_documents", "load_paths"),
    "model": (
        "ClusterNetworkPolicy",
        "ContainerPort",
        "Diagnostic",
        "Location",
        "Namespace",
        "NetworkPolicy",
        "Snapshot",
        "Workload",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ClusterNetworkPolicy",
    "Connectivity",
    "ConnectivityDiff",
    "ContainerPort",
    "Diagnostic",
    "Endpoint",
    "Explanation",
    "Flow",
    "FlowChange",
    "Location",
    "ManifestError",
    "ManifestErrors",
    "Namespace",
    "NetvizError",
    "NetworkPolicy",
    "PortSet",
    "Snapshot",
    "Workload",
    "assemble",
    "diff",
    "evaluate",
    "explain",
    "load_documents",
    "load_paths",
    "reevaluate",
]


class _Engine(ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing the submodules `diff` and `explain` sets them as attributes of this
        # package; the functions of the same names must stay what those names give.
        if isinstance(value, ModuleType) and _HOME_OF.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Engine


def __getattr__(name: str) -> object:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
