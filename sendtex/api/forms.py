"""The UI's forms, filled from JSON: the API validates with the same rules and messages as the pages."""
from werkzeug.datastructures import MultiDict

from sendtex.api.errors import invalid


def formdata(values):
    """JSON values as a browser would submit them: true as a ticked box, false and null left out, lists repeated."""
    data = MultiDict()
    for name, value in values.items():
        if value is None or value is False:
            continue
        for item in value if isinstance(value, list) else [value]:
            data.add(name, "y" if item is True else str(item))
    return data


def filled(form_class, values, *args, **kwargs):
    """A form of form_class holding values (CSRF off: token requests carry no session to forge)."""
    return form_class(*args, formdata=formdata(values), meta={"csrf": False}, **kwargs)


def form_errors(form, names=None):
    """[(field, message)] of a validated form, form field names mapped to API names."""
    names = names or {}
    return [(names.get(name, name), str(message))
            for name, messages in form.errors.items() for message in messages]


def validated(form, names=None):
    """The form when it validates; a 400 with its messages otherwise."""
    if not form.validate():
        raise invalid(form_errors(form, names))
    return form
