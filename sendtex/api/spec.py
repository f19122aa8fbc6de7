"""The API's one declarative description: every route is declared once, with its scope, parameters, body and
responses. The same declaration registers the Flask view, checks requests against the schemas and builds
the OpenAPI 3.1 document, so the document cannot drift from the code.
"""
import dataclasses
import functools
import json
import re

from flask import current_app, request
from flask_babel import lazy_gettext as _l

from sendtex.api import bp
from sendtex.api.errors import CODES, ApiError, from_exception, invalid

PREFIX = "/api/v1"
OPERATIONS = []  # in declaration order: the document lists them so
PUBLIC_ENDPOINTS = set()  # operations that need no API key
SCHEMAS = {}
MAX_ID = 2**63 - 1
ERROR_DESCRIPTIONS = {
    400: "The request failed validation; `details` lists every problem.",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "The API key lacks the scope this operation needs.",
    404: "No such object in the key's account (another account's id answers the same).",
    409: "The request conflicts with the object's state, or an Idempotency-Key is still in use.",
    413: "The body is too large.",
    415: "The body is not of the accepted media type.",
    422: "The request is valid but cannot be carried out; `details` says why.",
    429: "Too many requests with this key: wait the seconds in Retry-After.",
}
TYPE_WORDS = {"string": _l("text"), "integer": _l("a whole number"), "number": _l("a number"),
              "boolean": _l("true or false"), "object": _l("an object"), "array": _l("a list"), "null": _l("null")}


def component(name, schema):
    """Register a named schema; returns the reference to it."""
    SCHEMAS[name] = schema
    return ref(name)


def ref(name):
    """A reference to a named schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required=(), /, **properties):
    """An object schema with these properties, nothing else allowed."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def nullable(schema):
    """The schema, or null."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return dict(schema, type=kinds + ["null"])


def stamp(moment):
    """A stored UTC time as RFC 3339 text (None stays None)."""
    return None if moment is None else moment.isoformat() + "Z"


def page_of(item_schema):
    """A page of a collection and the cursor of the next one."""
    return obj(["data", "next_cursor"], data={"type": "array", "items": item_schema},
               next_cursor={"type": ["string", "null"]})


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIMESTAMP = {"type": "string", "format": "date-time"}
JOB = component("Job", obj(
    ["id", "kind", "status", "done", "total", "error"],
    id=ID, kind={"type": "string"}, error={"type": "string"},
    status={"type": "string", "enum": ["draft", "queued", "running", "done", "failed", "cancelled"]},
    done={"type": "integer", "minimum": 0}, total={"type": "integer", "minimum": 0},
))
CURSOR_PARAMS = {
    "cursor": ({"type": "string", "maxLength": 500}, "The `next_cursor` of the previous page."),
    "limit": ({"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Items per page."),
}


@dataclasses.dataclass
class Operation:
    method: str
    path: str
    view: object
    scope: str | None
    tag: str
    responses: dict  # status: schema (None for no body)
    query: dict  # name: (schema, description)
    body: dict | None
    body_required: bool
    errors: tuple
    too_large: tuple | None  # (property, most items): more is a 413, not a 400
    multipart: dict | None

    @property
    def endpoint(self):
        return self.view.__name__

    @property
    def path_params(self):
        return re.findall(r"\{(\w+)\}", self.path)

    def error_statuses(self):
        """Every error status this operation can answer."""
        statuses = set(self.errors)
        if self.scope is not None:
            statuses |= {400, 401, 403, 429}
        if self.path_params:
            statuses.add(404)
        if self.body is not None or self.multipart is not None:
            statuses |= {400, 413, 415}
        if self.method == "POST" and self.scope is not None:
            statuses |= {409, 422}  # an Idempotency-Key still in use, or reused for another request
        return sorted(statuses)

    def describe(self):
        """The operation object of the OpenAPI document."""
        doc = (self.view.__doc__ or "").strip().split("\n", 1)
        description = doc[1].strip() if len(doc) > 1 else ""
        if self.scope:
            description = f"{description}\n\nScope: `{self.scope}`.".strip()
        parameters = [{"name": name, "in": "path", "required": True, "schema": ID} for name in self.path_params]
        parameters += [{"name": name, "in": "query", "required": False, "schema": schema, "description": text}
                       for name, (schema, text) in self.query.items()]
        if self.method == "POST" and self.scope is not None:
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]+$"},
                               "description": "A retry with the same key returns the first response and does "
                                              "nothing twice (kept 24 hours)."})
        operation = {"operationId": self.endpoint, "summary": doc[0], "tags": [self.tag], "parameters": parameters,
                     "responses": self._responses()}
        if description:
            operation["description"] = description
        if self.scope is None:
            operation["security"] = []
        if self.body is not None:
            operation["requestBody"] = {"required": self.body_required,
                                        "content": {"application/json": {"schema": self.body}}}
        elif self.multipart is not None:
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": self.multipart}}}
        return operation

    def _responses(self):
        responses = {}
        for status, schema in self.responses.items():
            entry = {"description": "Success."}
            if schema is not None:
                entry["content"] = {"application/json": {"schema": schema}}
            responses[str(status)] = entry
        for status in self.error_statuses():
            entry = {"description": ERROR_DESCRIPTIONS.get(status, CODES[status]),
                     "content": {"application/json": {"schema": ref("Error")}}}
            if status == 429:
                entry["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"},
                                                    "description": "Seconds until a request is accepted again."}}
            responses[str(status)] = entry
        return responses


def operation(method, path, *, scope, tag, responses, query=None, body=None, body_required=True, errors=(),
              too_large=None, multipart=None):
    """Declare an API operation: registers the view under /api/v1 and describes it in the OpenAPI document.

    The view gets its path ids, `query` (checked, typed values) when query parameters are declared and
    `body` (checked JSON) when a body is. It returns data (200), (data, status), or a Response.
    """

    def declare(view):
        op = Operation(method, path, view, scope, tag, responses, dict(query or {}), body, body_required,
                       tuple(errors), too_large, multipart)
        OPERATIONS.append(op)
        if scope is None:
            PUBLIC_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
        rule = re.sub(r"\{(\w+)\}", r"<int:\1>", path)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=_handler(op), methods=[method])
        return view

    return declare


def _handler(op):
    from sendtex.api import auth, idempotency

    @functools.wraps(op.view)
    def handle(**ids):
        try:
            if op.scope is not None:
                auth.require_scope(op.scope)
            if op.method == "POST" and op.scope is not None:
                return idempotency.once(lambda: _run(op, ids))
            return _run(op, ids)
        except ApiError as exc:
            return from_exception(exc)

    return handle


def _run(op, ids):
    try:
        kwargs = dict(ids)
        unknown = sorted(set(request.args) - set(op.query))
        if unknown:
            raise invalid([(name[:40], _l("Is not a known parameter.")) for name in unknown])
        if op.query:
            kwargs["query"] = parse_query(op.query)
        if op.body is not None:
            kwargs["body"] = parse_body(op)
        return respond(op.view(**kwargs))
    except ApiError as exc:
        return from_exception(exc)


def job_json(job):
    """A background job's progress as the API shows it."""
    return {"id": job.id, "kind": job.kind, "status": job.status, "done": job.done, "total": job.total,
            "error": job.error}


def respond(result):
    """A JSON response from what a view returned."""
    if isinstance(result, current_app.response_class):
        return result
    data, status = result if isinstance(result, tuple) else (result, 200)
    response = current_app.response_class(status=204) if status == 204 else current_app.json.response(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_query(declared):
    """The declared query parameters, typed; a 400 listing every bad one."""
    values, errors = {}, []
    for name, (schema, _text) in declared.items():
        raw = request.args.get(name)
        if raw is None:
            values[name] = schema.get("default")
            continue
        try:
            value = _typed(schema, raw)
        except ValueError:
            errors.append((name, _l("Must be %(kind)s.", kind=TYPE_WORDS[schema["type"]])))
            continue
        problems = check(schema, value, name)
        errors += problems
        values[name] = value
    if errors:
        raise invalid(errors)
    return values


def _typed(schema, raw):
    if schema["type"] == "integer":
        if not re.fullmatch(r"-?[0-9]{1,19}", raw):
            raise ValueError(raw)
        return int(raw)
    if schema["type"] == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(raw)
        return raw == "true"
    return raw


def parse_body(op):
    """The JSON body, checked against the operation's schema; 415, 413 or 400 otherwise."""
    data = request.get_data(cache=True)
    if not data.strip():
        if op.body_required:
            raise invalid([("body", _l("Send a JSON object."))])
        return {}
    if not request.is_json:
        raise ApiError(415)
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise invalid([("body", _l("The body is not valid JSON."))]) from None
    if op.too_large:
        name, most = op.too_large
        if isinstance(body, dict) and isinstance(body.get(name), list) and len(body[name]) > most:
            raise ApiError(413, _l("Send at most %(n)s items in “%(name)s” per request.", n=f"{most:,}", name=name))
    errors = check(op.body, body, "")
    if errors:
        raise invalid(errors)
    return body


def _resolve(schema):
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is(kind, value):
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[kind])


def check(schema, value, where):
    """[(where, message)] for every way value breaks the schema (the subset of JSON Schema used here)."""
    return [] if conforms(schema)(value) else worded(schema, value, where, check)


def worded(schema, value, where, check_part):
    """check's problems of value, found without the compiled test; check_part checks the items and properties."""
    schema = _resolve(schema)
    field = where or "body"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(kind, value) for kind in kinds):
            words = " or ".join(str(TYPE_WORDS[kind]) for kind in kinds)
            return [(field, _l("Must be %(kind)s.", kind=words))]
    if value is None:
        return []
    if "enum" in schema and value not in schema["enum"]:
        return [(field, _l("Must be one of: %(options)s.", options=", ".join(map(str, schema["enum"]))))]
    if isinstance(value, str):
        return _check_text(schema, value, field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return [(field, _l("Must be at least %(n)s.", n=schema["minimum"]))]
        if "maximum" in schema and value > schema["maximum"]:
            return [(field, _l("Must be at most %(n)s.", n=schema["maximum"]))]
        return []
    if isinstance(value, list):
        return _check_list(schema, value, where, check_part)
    if isinstance(value, dict):
        return _check_object(schema, value, where, check_part)
    return []


def _check_text(schema, value, field):
    if len(value) < schema.get("minLength", 0):
        return [(field, _l("Must not be empty.") if schema["minLength"] == 1 else
                 _l("Must have at least %(n)d characters.", n=schema["minLength"]))]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return [(field, _l("Must have at most %(n)d characters.", n=schema["maxLength"]))]
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return [(field, _l("Is not in the expected format."))]
    return []


def _check_list(schema, value, where, check_part):
    field = where or "body"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return [(field, _l("Must have at most %(n)d items.", n=schema["maxItems"]))]
    if len(value) < schema.get("minItems", 0):
        return [(field, _l("Must have at least %(n)d items.", n=schema["minItems"]))]
    if schema.get("uniqueItems") and len({json.dumps(item, sort_keys=True) for item in value}) < len(value):
        return [(field, _l("Must not list the same item twice."))]
    errors = []
    for index, item in enumerate(value):
        errors += check_part(schema.get("items", ANY_VALUE), item, f"{where}[{index}]")
    return errors


def _check_object(schema, value, where, check_part):
    prefix = f"{where}." if where else ""
    errors = [(prefix + name, _l("This is required.")) for name in schema.get("required", ()) if name not in value]
    properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        return [(where or "body", _l("Must have at most %(n)d entries.", n=schema["maxProperties"]))]
    for name, item in value.items():
        if name in properties:
            errors += check_part(properties[name], item, prefix + name)
        elif extra is False:
            errors.append((prefix + name, _l("Is not a known property.")))
        elif isinstance(extra, dict):
            errors += check_part(extra, item, prefix + name)
    return errors


# check() words every problem of a value; conforms() answers only whether there is one, from a test compiled
# once per schema. A 10,000-row body costs one fast pass, and only refused values are walked again for words.
# The two follow the same rules keyword by keyword (tests/test_api_schema.py compares them).
PY_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
            "array": (list,), "null": (type(None),)}
ANY_VALUE = {}
_COMPILED = {}  # id(schema): (schema, test); the schema is kept so its id is never reused


def _anything(value):
    return True


def conforms(schema):
    """A compiled test of value: True exactly when check(schema, value, …) finds no problem."""
    entry = _COMPILED.get(id(schema))
    if entry is None:
        entry = _COMPILED[id(schema)] = (schema, _compile(_resolve(schema)))
    return entry[1]


def _compile(schema):
    kinds = schema.get("type")
    kinds = None if kinds is None else kinds if isinstance(kinds, list) else [kinds]
    exact = frozenset(kind for name in kinds for kind in PY_TYPES[name]) if kinds is not None else None
    enum = schema.get("enum")
    text, number, items, entries = _text_rule(schema), _number_rule(schema), _list_rule(schema), _object_rule(schema)

    def right_type(value):
        # JSON gives exact types; anything else (a subclass) takes the slower test check uses.
        return exact is None or type(value) in exact or any(_is(kind, value) for kind in kinds)

    if enum is None and text is number is items is entries is None:
        return _anything if exact is None else right_type
    if enum is None and kinds in (["object"], ["array"]):
        rule, container = (entries, dict) if kinds == ["object"] else (items, list)
        if rule is None:
            return right_type
        return lambda value: (type(value) is container or isinstance(value, container)) and rule(value)

    def test(value):
        if not right_type(value):
            return False
        if value is None:
            return True
        if enum is not None and value not in enum:
            return False
        if isinstance(value, str):
            return text is None or text(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number is None or number(value)
        if isinstance(value, list):
            return items is None or items(value)
        if isinstance(value, dict):
            return entries is None or entries(value)
        return True

    return test


def _text_rule(schema):
    shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    if not shortest and longest is None and pattern is None:
        return None
    return lambda value: (shortest <= len(value) and (longest is None or len(value) <= longest)
                          and (pattern is None or pattern.search(value) is not None))


def _number_rule(schema):
    least, most = schema.get("minimum"), schema.get("maximum")
    if least is None and most is None:
        return None
    # Written as check's comparisons so that NaN fares the same.
    return lambda value: not (least is not None and value < least) and not (most is not None and value > most)


def _list_rule(schema):
    fewest, most, unique = schema.get("minItems", 0), schema.get("maxItems"), schema.get("uniqueItems")
    item = conforms(schema["items"]) if "items" in schema else _anything
    if not fewest and most is None and not unique and item is _anything:
        return None

    def rule(value):
        if most is not None and len(value) > most or len(value) < fewest:
            return False
        if unique and len({json.dumps(entry, sort_keys=True) for entry in value}) < len(value):
            return False
        return item is _anything or all(map(item, value))

    return rule


def _object_rule(schema):
    required, most = tuple(schema.get("required", ())), schema.get("maxProperties")
    properties = {name: conforms(item) for name, item in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra = _anything if extra is True else None if extra is False else conforms(extra)
    if not required and most is None and not properties and extra is _anything:
        return None

    def rule(value):
        if most is not None and len(value) > most:
            return False
        for name in required:
            if name not in value:
                return False
        if not properties:
            return not value if extra is None else extra is _anything or all(map(extra, value.values()))
        for name, item in value.items():
            test = properties.get(name, extra)
            if test is None or not test(item):
                return False
        return True

    return rule


def document():
    """The OpenAPI 3.1 document of every declared operation."""
    paths = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = op.describe()
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sendtex API", "version": "1.0.0", "description": INFO},
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "An API key from the account's API keys page."}}},
        "security": [{"apiKey": []}],
    }


INFO = """JSON in and out. Authenticate with `Authorization: Bearer <key>`; a key has scopes (read, write, send).
Every error has the shape `{"error": {"code", "message", "details": [{"field", "message"}]}}`.
Collections are paged: pass `next_cursor` as `cursor` until it is null.
Each response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
POST requests accept an `Idempotency-Key` header."""
