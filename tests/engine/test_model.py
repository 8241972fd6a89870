"""The model's written-out methods behave as the ones @dataclass(frozen=True, slots=True) makes.

model.py writes __init__, __eq__, __hash__ and __repr__ by hand (generated ones are compiled at
every start-up); each class is compared here with a twin made by the real decorator from the
same fields: construction with defaults, equality (fields with compare=False left out), hash
values (set and dict order depend on them), repr, refusal of changes, replace() and pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from policies.engine import model

CLASSES = [
    obj
    for _, obj in sorted(vars(model).items())
    if inspect.isclass(obj) and obj.__module__ == model.__name__ and dataclasses.is_dataclass(obj)
]


def twin(cls: type) -> type:
    """What @dataclass(frozen=True, slots=True) makes of the same fields."""
    specs = []
    for f in dataclasses.fields(cls):
        kwargs = {"compare": f.compare}
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        specs.append((f.name, f.type, dataclasses.field(**kwargs)))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


def values(cls: type, salt: str) -> list[object]:
    """A value per field, different per field and per salt (the types do not matter here)."""
    return [f"{salt}-{f.name}" for f in dataclasses.fields(cls)]


def test_every_model_class_is_covered():
    names = {c.__name__ for c in CLASSES}
    assert {"Location", "Workload", "NetworkPolicy", "Snapshot", "ClusterRule"} <= names
    assert len(CLASSES) == 17


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_fields_signature_and_slots(cls):
    ref = twin(cls)
    assert [(f.name, f.default, f.compare) for f in dataclasses.fields(cls)] == [
        (f.name, f.default, f.compare) for f in dataclasses.fields(ref)
    ]
    ours = inspect.signature(cls)
    theirs = inspect.signature(ref)
    assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.default, p.kind) for p in theirs.parameters.values()
    ]
    assert cls.__slots__ == ref.__slots__
    assert cls.__match_args__ == ref.__match_args__
    assert "__dict__" not in dir(cls(*values(cls, "a")))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_equality_hash_and_repr_as_a_dataclass(cls):
    ref = twin(cls)
    a, b = values(cls, "a"), values(cls, "b")
    ours, theirs = cls(*a), ref(*a)
    assert hash(ours) == hash(theirs)
    assert repr(ours) == repr(theirs)
    assert ours == cls(*a)
    assert not ours.__ne__(cls(*a))
    assert ours != theirs  # another class, as between two dataclasses
    assert ours != a
    # Changing one field at a time: unequal exactly where the dataclass is unequal.
    for i, f in enumerate(dataclasses.fields(cls)):
        changed = [*a[:i], b[i], *a[i + 1 :]]
        assert (cls(*changed) == ours) == (ref(*changed) == theirs) == (not f.compare)
        assert hash(cls(*changed)) == hash(ref(*changed))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_as_a_dataclass(cls):
    ref = twin(cls)
    required = [f for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    args = [f"x-{f.name}" for f in required]
    assert repr(cls(*args)) == repr(ref(*args))
    assert hash(cls(*args)) == hash(ref(*args))
    keywords = {f.name: f"k-{f.name}" for f in dataclasses.fields(cls)}
    assert repr(cls(**keywords)) == repr(ref(**keywords))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_frozen_and_replaceable(cls):
    obj = cls(*values(cls, "a"))
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "other")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(obj, name)
    with pytest.raises(AttributeError):
        obj.not_a_field = 1
    assert getattr(obj, name) == f"a-{name}"
    changed = dataclasses.replace(obj, **{name: "other"})
    assert getattr(changed, name) == "other"
    assert type(changed) is cls
    assert dataclasses.asdict(obj) == dict(
        zip([f.name for f in dataclasses.fields(cls)], values(cls, "a"), strict=True)
    )
    for again in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert again == obj
        assert repr(again) == repr(obj)


def test_real_objects_nest_as_before():
    loc = model.Location("a.yaml", 3, "spec.podSelector")
    selector = model.LabelSelector((("app", "web"),))
    port = model.PolicyPort("TCP", 80, None, loc)
    assert port == model.PolicyPort("TCP", 80)  # location is not part of a port's identity
    assert hash(port) == hash(model.PolicyPort("TCP", 80))
    assert model.ClusterSubject().namespace_selector == model.LabelSelector()
    assert model.ClusterSubject().namespace_selector is model.ClusterSubject().namespace_selector
    assert model.ClusterSubject().namespace_selector.is_empty
    policy = model.NetworkPolicy("ns", "p", selector, ("Ingress",), location=loc)
    assert policy.id == "ns/p"
    assert policy.affects_ingress
    assert not policy.affects_egress
    assert {policy: 1}[dataclasses.replace(policy)] == 1
    assert str(loc) == "a.yaml:3 spec.podSelector"
