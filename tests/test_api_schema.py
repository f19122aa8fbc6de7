"""Property-based: schemathesis loads the OpenAPI document the running server serves (waitress on loopback) and
drives every operation in it over HTTP: no 5xx, and every answer (status, content type, headers, body) matches
the document. And the compiled test that lets valid bodies through fast accepts exactly what the worded check
accepts."""
import json

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
from sendtex.api.spec import OPERATIONS, PREFIX
from sendtex.models.api import SCOPES, ApiKey
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Field, MailingList, Segment
from tests.conftest import make_account

# Bounded so the whole run stays well under a minute in CI.
MAX_EXAMPLES = 4
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
        return st.text(min_size=shortest, max_size=min(longest or 8, 8)) | st.just("x" * (longest or shortest))
    if kind in ("integer", "number"):
        least, most = schema.get("minimum"), schema.get("maximum")
        numbers = st.integers(least, most) | st.sampled_from([edge for edge in (least, most) if edge is not None] or [0])
        return numbers | st.floats(least, most) if kind == "number" else numbers
    if kind == "array":
        fewest = schema.get("minItems", 0)
        unique = (lambda item: json.dumps(item, sort_keys=True)) if schema.get("uniqueItems") else None
        item, most = fitting(schema.get("items", {})), schema.get("maxItems", 3)
        lists = st.lists(item, min_size=fewest, max_size=max(fewest, min(most, 3)), unique_by=unique)
        if most > 3:  # and right at the limit
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
        if most and not properties:  # and right at the limit
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
    found = {}
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
    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
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
