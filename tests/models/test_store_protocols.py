"""The project store satisfies every protocol its consumers are written against.

Consumers in ``models`` and the app controllers take the narrow protocol they need (a pose
store, a QA store, an eval store ...) instead of the concrete ``Repository``. The type
checker proves the signatures in ``models/store/repository.py``; these tests check a real
repository on a real project file at run time: it is an instance of each protocol, and each
protocol method can be called on it exactly as the protocol declares (same parameter
names, kinds and defaults; extra repository parameters are optional).
"""
import importlib
import inspect

import pytest

from models.store import Repository

# every module that declares store protocols
PROTOCOL_MODULES = ["models.pose.storage", "models.qa.storage", "models.vlm.storage",
                    "models.importers", "app.controllers.curation", "app.controllers.evaluation"]


def _protocols():
    found = []
    for name in PROTOCOL_MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (inspect.isclass(obj) and getattr(obj, "_is_protocol", False)
                    and obj.__module__ == name):
                found.append(obj)
    return found


PROTOCOLS = _protocols()


def _members(proto) -> list[str]:
    names = set()
    for base in proto.__mro__:
        if base is object or not getattr(base, "_is_protocol", False) or base.__name__ in (
                "Protocol", "Generic"):
            continue
        names |= {n for n in vars(base) if not n.startswith("_")}
        names |= set(getattr(base, "__annotations__", {}))
    return sorted(names)


def _mismatches(impl, proto) -> list[str]:
    """How calls written against ``proto`` would fail on ``impl`` (empty: none)."""
    out = []
    for name in _members(proto):
        declared = inspect.getattr_static(proto, name, None)
        if not callable(declared):
            if not hasattr(impl, name):
                out.append(f"{name}: missing attribute")
            continue
        actual = getattr(impl, name, None)
        if not callable(actual):
            out.append(f"{name}: missing method")
            continue
        want = inspect.signature(declared).parameters  # with ``self``
        have = inspect.signature(actual).parameters    # bound: without
        for pname, p in want.items():
            if pname == "self":
                continue
            q = have.get(pname)
            if q is None:
                out.append(f"{name}: no parameter {pname!r}")
            elif q.kind != p.kind:
                out.append(f"{name}: {pname!r} is {q.kind.name}, protocol says {p.kind.name}")
            elif p.default is not p.empty and q.default != p.default:
                out.append(f"{name}: {pname!r} defaults to {q.default!r}, protocol says {p.default!r}")
        if [n for n in want if n != "self"] != [n for n in have if n in want]:
            out.append(f"{name}: parameters in another order")
        for pname, q in have.items():
            if pname not in want and pname != "self" and q.default is q.empty and q.kind not in (
                    q.VAR_POSITIONAL, q.VAR_KEYWORD):
                out.append(f"{name}: repository requires {pname!r}, the protocol never passes it")
    return out


def test_every_protocol_module_is_found():
    names = {p.__name__ for p in PROTOCOLS}
    assert {"PoseStore", "ClipStore", "QAStore", "QAPoseStore", "AnswerSource", "EvalStore",
            "AnswerStore", "EndpointStore", "SettingsStore", "ImportStore", "CurationStore",
            "EvaluationStore"} <= names


@pytest.mark.parametrize("proto", PROTOCOLS, ids=lambda p: f"{p.__module__}.{p.__name__}")
def test_repository_satisfies_protocol(proto, tmp_path):
    repo = Repository(tmp_path / "project.aastudio")
    try:
        assert isinstance(repo, proto)
        assert _mismatches(repo, proto) == []
    finally:
        repo.close()


def test_a_store_that_differs_is_caught(tmp_path):
    from models.qa.storage import EvalStore, QAStore

    class Partial:
        def add_qa_items(self, records, gen_key=None):  # no ``run``
            return 0

        def qa_flags(self, qa_id, extra):  # a parameter callers never pass
            return {}

        def qa_ids(self, filters=None, sort="id", descending=False):  # another default
            return []

        def qa_count(self, *, filters=None):  # keyword-only
            return 0

        def qa_history(self, qa_id, verbose=False):  # an optional extra: fine
            return []

    found = _mismatches(Partial(), QAStore)
    assert "add_qa_items: no parameter 'run'" in found
    assert "qa_flags: repository requires 'extra', the protocol never passes it" in found
    assert "qa_ids: 'sort' defaults to 'id', protocol says 'seq'" in found
    assert "qa_count: 'filters' is KEYWORD_ONLY, protocol says POSITIONAL_OR_KEYWORD" in found
    assert "undo: missing method" in found
    assert not [m for m in found if m.startswith("qa_history")]
    assert not isinstance(Partial(), EvalStore)
