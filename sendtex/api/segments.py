"""Saved segments: page through them and count their contacts."""
from sendtex import segments
from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError
from sendtex.api.pagination import id_page
from sendtex.api.spec import CURSOR_PARAMS, ID, TIMESTAMP, component, obj, operation, page_of, stamp
from sendtex.models.contacts import Segment

CONDITION = {"type": "object", "required": ["field", "op"],
             "properties": {"field": {"type": "string"}, "op": {"type": "string"},
                            "value": {"type": ["string", "number", "boolean", "null"]},
                            "status": {"type": "string"},
                            "digest": {"type": "string", "description": "An exact e-mail match, kept as its digest."}}}
SEGMENT = component("Segment", obj(
    ["id", "name", "match", "conditions", "problems", "created_at", "updated_at"],
    id=ID, name={"type": "string"}, match={"type": "string", "enum": list(segments.MATCHES)},
    conditions={"type": "array", "items": CONDITION},
    problems={"type": "array", "items": {"type": "string"},
              "description": "Why the segment cannot be used any more (a field was deleted or encrypted)."},
    created_at=TIMESTAMP, updated_at=TIMESTAMP,
))


def segment_json(segment):
    """A segment as the API shows it."""
    return {"id": segment.id, "name": segment.name, "match": segment.match, "conditions": list(segment.conditions),
            "problems": list(segments.problems(segment, segment.account_id).values()),
            "created_at": stamp(segment.created_at), "updated_at": stamp(segment.updated_at)}


@operation("GET", "/segments", scope="read", tag="Segments", query=CURSOR_PARAMS, responses={200: page_of(SEGMENT)})
def list_segments(query):
    """The account's saved segments, oldest first."""
    return id_page(Segment.for_account(account_id()), Segment, query, "segments", segment_json)


@operation("GET", "/segments/{segment_id}", scope="read", tag="Segments", responses={200: SEGMENT})
def get_segment(segment_id):
    """One segment and its conditions."""
    return segment_json(owned(Segment, segment_id))


@operation("GET", "/segments/{segment_id}/count", scope="read", tag="Segments", errors=(422,),
           responses={200: obj(["count"], count={"type": "integer", "minimum": 0})})
def count_segment(segment_id):
    """How many contacts the segment holds now (422 when its conditions can no longer be used)."""
    segment = owned(Segment, segment_id)
    try:
        return {"count": segments.count(segment.match, segment.conditions, account_id())}
    except segments.InvalidSegment as exc:
        raise ApiError(422, details=[("conditions" if key == "match" else f"conditions[{key}]", str(message))
                                     for key, message in exc.errors.items()]) from None
