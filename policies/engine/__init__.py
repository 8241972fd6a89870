"""netviz's evaluation engine: pure Python, never imports Django.

snapshot = load_paths(["manifests/"])      # raises ManifestErrors with every located error
conn = evaluate(snapshot)                  # Connectivity
for flow in conn.flows(): ...              # Flow(src, dst, ports)
"""

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
