"""Label selector matching: matchLabels and each matchExpressions operator."""

from __future__ import annotations

import pytest

from policies.engine.model import LabelSelector, Requirement
from policies.engine.selectors import format_selector, matches


def _sel(*reqs: Requirement, **labels: str) -> LabelSelector:
    return LabelSelector(tuple(sorted(labels.items())), reqs)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (_sel(), {}, True),  # the empty selector matches everything, even no labels
        (_sel(app="web"), {"app": "web", "x": "y"}, True),  # extra labels don't matter
        (_sel(app="web"), {"app": "api"}, False),
        (_sel(app="web", tier="front"), {"app": "web"}, False),  # matchLabels are ANDed
        (_sel(Requirement("env", "In", ("prod", "stage"))), {"env": "stage"}, True),
        (_sel(Requirement("env", "In", ("prod",))), {}, False),  # In needs the key
        (_sel(Requirement("env", "NotIn", ("prod",))), {"env": "dev"}, True),
        (_sel(Requirement("env", "NotIn", ("prod",))), {"env": "prod"}, False),
        (_sel(Requirement("env", "NotIn", ("prod",))), {}, True),  # NotIn matches a missing key
        (_sel(Requirement("env", "Exists")), {"env": ""}, True),
        (_sel(Requirement("env", "Exists")), {}, False),
        (_sel(Requirement("env", "DoesNotExist")), {}, True),
        (_sel(Requirement("env", "DoesNotExist")), {"env": "x"}, False),
        # expressions and labels are ANDed together
        (_sel(Requirement("env", "Exists"), app="web"), {"app": "web"}, False),
    ],
)
def test_matches(selector: LabelSelector, labels: dict, expected: bool) -> None:
    assert matches(selector, labels) is expected


def test_format_selector_reads_like_kubectl() -> None:
    sel = _sel(
        Requirement("tier", "In", ("api", "front")),
        Requirement("legacy", "DoesNotExist"),
        Requirement("team", "Exists"),
        app="web",
    )
    assert format_selector(sel) == "app=web,tier in (api,front),!legacy,team"
    assert format_selector(LabelSelector()) == "{} (everything)"
