"""Property-based: schemathesis loads the OpenAPI document the running server serves (waitress on loopback) and
drives every operation in it over HTTP: no 5xx, and every answer (status, content type, headers, body) matches
the document. And the compiled test that lets valid bodies through fast accepts exactly what the worded check
accepts."""
import json
import math

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sendtex import audience
from sendtex.api import routes  # noqa: F401  (declares the operations listed below)
from sendtex.api import spec
from sendtex.api.contacts import FIELD_VALUES, LIST_IDS
from sendtex.api.spec import OPERATIONS, PREFIX
from sendtex.models.api import SCOPES, ApiKey
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Field, MailingList, Segment
from tests.conftest import make_account

# Bounded so the whole run stays well under a minute in CI.
MAX_EXAMPLES = 25
# The document gives the shape of values; their rules (a list's name is required and at most 200 characters,
# a from address on a verified domain, …) are the pages' own validators, stated in words, so a
# schema-valid request may still get a 400 with the page's message.
EXCLUDED_CHECKS = [positive_data_acceptance]


@pytest.fixture
def served_api(live_server):
    """The document as the running server serves it, an account with one object of each kind, and a key."""
    live_server.config["API_RATE_LIMIT"] = 10**6
    with live_server.app_context():
        account = make_account("Schema")
        news = MailingList.create(account=account, name="News")
        audience.create_contact(audience.FieldSet(account.id), {"email": "ann@example.com"}, [news.id])
        Field.create(account=account, key="colour", label="Colour", encrypted=True)
        Segment.create(account=account, name="Everyone", conditions=[])
        Campaign.create(account=account, name="Hello", list_ids=[news.id])
        _key, secret = ApiKey.issue(account.id, "schemathesis", SCOPES)
    schema = schemathesis.openapi.from_url(f"{live_server.url}{PREFIX}/openapi.json", timeout=10)
    with requests.Session() as session:
        yield schema, secret, live_server.url, session


@pytest.mark.parametrize("method, path", [(op.method, PREFIX + op.path) for op in OPERATIONS],
                         ids=[f"{op.method} {op.path}" for op in OPERATIONS])
def test_every_operation_answers_as_documented(served_api, method, path):
    schema, secret, base_url, session = served_api
    operation = schema[path][method]  # a KeyError if the served document left the operation out

    # Valid and invalid requests alike: invalid ones must get a documented 4xx, never a 5xx.
    @given(case=operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(base_url=base_url, session=session, headers={"Authorization": f"Bearer {secret}"},
                               excluded_checks=EXCLUDED_CHECKS, timeout=30)

    answers_as_documented()


# Limits up to this size are reached in the values generated; the larger ones of the API's schemas (10,000
# contacts, 200 field values) are kept by the same code as the small ones of SMALL_LIMITS.
NEAR_LIMITS = 12
SMALL_LIMITS = {
    "type": "object", "required": ["name", "tags"], "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-c]+$"},
        "size": {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
        "share": {"type": "number", "minimum": 0, "maximum": 1.5},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}, "minItems": 1, "maxItems": 4,
                 "uniqueItems": True},
        "values": {"type": "object", "additionalProperties": {"type": ["string", "boolean"]}, "maxProperties": 4},
        "rows": {"type": "array", "maxItems": 5, "items": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}},
        "anything": {"description": "no rule at all"},
    }}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def fitting(schema):
    """JSON values that fit the schema, its limits included."""
    schema = spec._resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return JSON_VALUES
    return st.one_of([_fitting_kind(schema, kind) for kind in (kinds if isinstance(kinds, list) else [kinds])])


def _fitting_kind(schema, kind):
    if kind == "string":
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=shortest, max_size=min(longest or 8, 8)) | st.just("x" * (longest or shortest))
    if kind in ("integer", "number"):
        least, most = schema.get("minimum"), schema.get("maximum")
        whole = st.integers(None if least is None else math.ceil(least), None if most is None else math.floor(most))
        numbers = whole | st.sampled_from([edge for edge in (least, most) if edge is not None] or [0])
        return numbers | st.floats(least, most) if kind == "number" else numbers
    if kind == "array":
        fewest = schema.get("minItems", 0)
        unique = (lambda item: json.dumps(item, sort_keys=True)) if schema.get("uniqueItems") else None
        item, most = fitting(schema.get("items", {})), schema.get("maxItems", 3)
        lists = st.lists(item, min_size=fewest, max_size=max(fewest, min(most, 3)), unique_by=unique)
        if 3 < most <= NEAR_LIMITS:  # and right at the limit
            lists |= (st.lists(item, min_size=most, max_size=most, unique_by=unique) if unique
                      else st.builds(lambda one: [one] * most, item))
        return lists
    if kind == "object":
        properties, required = schema.get("properties", {}), set(schema.get("required", ()))
        shaped = st.fixed_dictionaries({name: fitting(value) for name, value in properties.items() if name in required},
                                       optional={name: fitting(value) for name, value in properties.items()
                                                 if name not in required})
        extra = schema.get("additionalProperties", True)
        if extra is False:
            return shaped
        most, values = schema.get("maxProperties"), JSON_VALUES if extra is True else fitting(extra)
        others = st.dictionaries(st.text(max_size=6).filter(lambda name: name not in properties), values,
                                 max_size=max(min(most or 3, 3) - len(properties), 0))
        objects = st.builds(lambda fixed, more: {**more, **fixed}, shaped, others)
        if most and most <= NEAR_LIMITS and not properties:  # and right at the limit
            objects |= st.builds(lambda one: {f"key{n}": one for n in range(most)}, values)
        return objects
    return {"boolean": st.booleans(), "null": st.none()}[kind]


def spoiled(value, data):
    """The value with one part changed: replaced by anything, one longer or shorter, a key or an item more or less."""
    parts = [(None, None, value)]
    for holder, key, part in parts:  # grows while it is walked: every part of the value, breadth first
        if isinstance(part, dict):
            parts += [(part, name, item) for name, item in part.items()]
        elif isinstance(part, list):
            parts += [(part, index, item) for index, item in enumerate(part)]
    holder, key, part = data.draw(st.sampled_from(parts))
    if isinstance(part, str) and data.draw(st.booleans()):
        changed = part + "x" if data.draw(st.booleans()) else part[:-1]
    elif isinstance(part, int) and not isinstance(part, bool) and data.draw(st.booleans()):
        changed = part + data.draw(st.sampled_from([-1, 1]))
    elif isinstance(part, dict) and part and data.draw(st.booleans()):
        changed = {name: item for name, item in part.items() if name != data.draw(st.sampled_from(sorted(part)))}
    elif isinstance(part, dict) and data.draw(st.booleans()):
        changed = {**part, data.draw(st.text(max_size=6)): data.draw(JSON_VALUES)}
    elif isinstance(part, list) and data.draw(st.booleans()):
        changed = part + [data.draw(st.sampled_from(part) | JSON_VALUES if part else JSON_VALUES)] \
            if data.draw(st.booleans()) else part[1:]
    else:
        changed = data.draw(JSON_VALUES)
    if holder is None:
        return changed
    holder[key] = changed
    return value


def _checked_schemas():
    found = {id(SMALL_LIMITS): ("every rule with small limits", SMALL_LIMITS)}
    for op in OPERATIONS:
        for name, schema in [("body", op.body)] + [(name, schema) for name, (schema, _text) in op.query.items()]:
            if schema is not None:
                found.setdefault(id(schema), (f"{op.method} {op.path} {name}", schema))
    return list(found.values())


@pytest.mark.parametrize("schema", [schema for _name, schema in _checked_schemas()],
                         ids=[name for name, _schema in _checked_schemas()])
def test_the_compiled_test_accepts_exactly_what_the_check_accepts(schema):
    fast = spec.conforms(schema)

    @given(st.data())
    @settings(max_examples=100, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def agrees(data):
        value = data.draw(fitting(schema))
        if data.draw(st.integers(0, 2)):  # two values in three spoiled
            value = spoiled(value, data)
        assert fast(value) == (reference(schema, value) == []), value

    agrees()


def reference(schema, value, where=""):
    """check's problems, worded at every level without the compiled test."""
    return spec.worded(schema, value, where, reference)


LIMITS = [  # (schema, [(value, fits?)])
    ({"type": "string", "minLength": 2, "maxLength": 3}, [("ab", True), ("abc", True), ("a", False), ("abcd", False)]),
    ({"type": "string", "pattern": "^[a-c]+$"}, [("abc", True), ("abd", False)]),
    ({"type": "integer", "minimum": 1, "maximum": 3},
     [(1, True), (3, True), (0, False), (4, False), (2.0, False), (True, False), ("2", False)]),
    ({"type": "number", "minimum": 0, "maximum": 1.5}, [(1.5, True), (0, True), (1.6, False), (-0.1, False)]),
    ({"type": ["string", "null"], "maxLength": 1}, [(None, True), ("a", True), ("ab", False), (0, False)]),
    ({"type": "string", "enum": ["a", "b"]}, [("a", True), ("c", False), (["a"], False)]),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
     [([1], True), ([1, 2], True), ([], False), ([1, 2, 3], False), ([1, 1], False), (["1"], False), ({}, False)]),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
     [({"a": 1}, True), ({}, False), ({"a": 1, "b": 2}, False), ({"a": "1"}, False), ([], False)]),
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, [({"a": 1, "z": [None]}, True), ({"a": None}, False)]),
    ({"type": "object", "additionalProperties": False}, [({}, True), ({"a": 1}, False)]),
    ({"type": "object", "additionalProperties": {"type": "boolean"}, "maxProperties": 2},
     [({"a": True, "b": False}, True), ({"a": 1}, False), ({"a": True, "b": True, "c": True}, False)]),
    ({"description": "no rule at all"}, [(None, True), ([{"a": 1}], True)]),
    (LIST_IDS, [(list(range(1, 101)), True), (list(range(1, 102)), False), ([0], False), ([2**63], False)]),
    (FIELD_VALUES, [({f"key{n}": n for n in range(200)}, True), ({f"key{n}": n for n in range(201)}, False),
                    ({"email": ["x"]}, False)]),
]


@pytest.mark.parametrize("schema, value, fits", [(schema, value, fits) for schema, cases in LIMITS
                                                 for value, fits in cases])
def test_the_compiled_test_and_the_check_agree_at_the_limits(schema, value, fits):
    assert spec.conforms(schema)(value) is fits
    assert (reference(schema, value) == []) is fits
