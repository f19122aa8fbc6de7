"""Custom fields: the page, creating, inline editing, reordering, deleting, and turning encryption on and off."""
import re

import pytest

from sendtex import audience
from sendtex.models.contacts import Contact, Field
from sendtex.models.jobs import Job
from tests.conftest import make_account, make_user, post

HTMX = {"HX-Request": "true"}


def make_field(account_id, key="colour", label="Colour", type="text", **fields):
    """A custom field at the end of the account's list."""
    last = max([f.position for f in Field.for_account(account_id)], default=0)
    return Field.create(account=account_id, key=key, label=label, type=type, position=last + 1, **fields)


def create_field(client, data, htmx=False):
    """Submit the "add a field" form (its inputs are prefixed with new-)."""
    return post(client, "/fields", {f"new-{name}": value for name, value in data.items()}, htmx=htmx)


def make_contact(app, account_id, **raw):
    """A contact created the way every path creates one (typed, sealed where encrypted)."""
    with app.app_context():
        fields = audience.FieldSet(account_id)
        values, errors = fields.coerce_all(raw, partial=True)
        assert not errors, errors
        return audience.create_contact(fields, values)


def read_back(app, contact):
    """The contact's values and read errors, decrypted from what is stored now."""
    with app.app_context():
        return audience.read_values(Contact.get_by_id(contact.id), audience.FieldSet(contact.account_id))


def labels_in_order(body):
    return [label.strip() for label in re.findall(r"<tr id=\"field-\d+\">\s*<td>([^<]+)", body)]


def test_page_lists_built_in_fields_first_then_custom_ones_in_order(owner, owner_client):
    make_field(owner.account_id, "zodiac", "Zodiac")
    make_field(owner.account_id, "age", "Age", "number")
    page = owner_client.get("/fields")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and "Contact fields" in body
    assert labels_in_order(body) == ["E-mail address", "First name", "Last name", "Zodiac", "Age"]
    fragment = owner_client.get("/fields", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="fields">')
    assert "HX-Request" in fragment.headers["Vary"]


def test_dashboard_links_to_the_fields_page(owner_client):
    assert 'href="/fields"' in owner_client.get("/app").get_data(as_text=True)


def test_create_fields_plain_and_htmx(owner, owner_client):
    response = create_field(owner_client, {"key": "favourite_colour", "label": "Favourite colour", "type": "choice",
                                              "choices": "Red\r\n Blue \n\nGreen", "required": "y"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/fields")
    colour = Field.get(account=owner.account_id, key="favourite_colour")
    assert (colour.type, colour.choices, colour.required, colour.encrypted) == (
        "choice", ["Red", "Blue", "Green"], True, False)

    response = create_field(owner_client, {"key": "birthday", "label": "Birthday", "type": "date", "encrypted": "y",
                                              "choices": "ignored for dates"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#fields"
    assert "The field Birthday was added." in body and labels_in_order(body)[-2:] == ["Favourite colour", "Birthday"]
    birthday = Field.get(account=owner.account_id, key="birthday")
    assert birthday.encrypted and birthday.choices == [] and birthday.position > colour.position


@pytest.mark.parametrize("data, message", [
    ({"key": "Bad Key"}, "A key starts with a lower-case letter"),
    ({"key": "9lives"}, "A key starts with a lower-case letter"),
    ({"key": "a" * 41}, "at most 40"),
    ({"key": ""}, "Give the field a key."),
    ({"key": "email"}, "“email” is a built-in field or contact column"),
    ({"key": "last_name"}, "“last_name” is a built-in field or contact column"),
    ({"key": "status"}, "“status” is a built-in field or contact column"),
    ({"key": "lists"}, "“lists” is a built-in field or contact column"),
    ({"key": "created_at"}, "“created_at” is a built-in field or contact column"),
    ({"label": "  "}, "Give the field a label."),
    ({"type": "colour"}, "Choose one of the offered types."),
    ({"type": "choice", "choices": "\n \n"}, "A single choice field needs at least one option."),
    ({"type": "choice", "choices": "Red\nBlue\nred"}, "The option “red” is listed twice."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_field_input_is_refused_with_a_clear_message(owner, owner_client, data, message, htmx):
    response = create_field(owner_client, {"key": "size", "label": "Size", "type": "text", **data}, htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert ("<html" in body) != htmx
    assert not Field.for_account(owner.account_id).where(Field.builtin == False).exists()  # noqa: E712


def test_duplicate_key_is_refused(owner, owner_client):
    make_field(owner.account_id, "size", "Size")
    response = create_field(owner_client, {"key": "size", "label": "Other size", "type": "number"})
    assert response.status_code == 422 and "A field with this key already exists." in response.get_data(as_text=True)
    assert Field.get(account=owner.account_id, key="size").label == "Size"


def test_edit_a_field_inline(owner, owner_client):
    field = make_field(owner.account_id, "size", "Size", "choice", choices=["S", "M"])
    fragment = owner_client.get(f"/fields/{field.id}/edit", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<tr id="field-{field.id}">') and "<html" not in fragment
    assert "cannot change once it exists" in fragment and "S\nM</textarea>" in fragment
    page = owner_client.get(f"/fields/{field.id}/edit")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)

    response = post(owner_client, f"/fields/{field.id}", {"label": "T-shirt size", "choices": "S\nM\nL",
                                                           "required": "y", "type": "number", "key": "other"})
    assert response.status_code == 303
    field = Field.get_by_id(field.id)
    assert (field.label, field.choices, field.required, field.type, field.key) == (
        "T-shirt size", ["S", "M", "L"], True, "choice", "size")

    response = post(owner_client, f"/fields/{field.id}", {"label": "Size", "choices": "S"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#fields"
    assert "The field Size was saved." in body and '<div id="fields">' in body
    assert Field.get_by_id(field.id).required is False

    row = owner_client.get(f"/fields/{field.id}", headers=HTMX).get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="field-{field.id}">') and "Size" in row and "<form" in row
    assert "<html" in owner_client.get(f"/fields/{field.id}").get_data(as_text=True)


@pytest.mark.parametrize("htmx", [False, True])
def test_bad_edits_are_refused(owner, owner_client, htmx):
    field = make_field(owner.account_id, "size", "Size", "choice", choices=["S", "M"])
    for data, message in [({"label": "Size", "choices": ""}, "at least one option"),
                          ({"label": "Size", "choices": "S\ns"}, "listed twice"),
                          ({"label": "", "choices": "S"}, "Give the field a label.")]:
        response = post(owner_client, f"/fields/{field.id}", data, htmx=htmx)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and message in body
        assert body.lstrip().startswith(f'<tr id="field-{field.id}">') == htmx
    assert Field.get_by_id(field.id).choices == ["S", "M"]


def test_built_in_fields_can_only_be_encrypted(app, owner, owner_client):
    make_contact(app, owner.account_id, email="ann@example.com", first_name="Ann")
    first_name = Field.get(account=owner.account_id, key="first_name")
    form = owner_client.get(f"/fields/{first_name.id}/edit", headers=HTMX).get_data(as_text=True)
    assert 'name="encrypted"' in form and 'name="label"' not in form and "can only be switched" in form
    response = post(owner_client, f"/fields/{first_name.id}", {"encrypted": "y", "label": "Given name"})
    assert response.status_code == 303
    first_name = Field.get_by_id(first_name.id)
    assert first_name.encrypted and first_name.label == "First name" and first_name.type == "text"

    for url, data in [(f"/fields/{first_name.id}/delete", {}), (f"/fields/{first_name.id}/move", {"direction": "up"})]:
        response = post(owner_client, url, data)
        assert response.status_code == 400
        assert "Built-in fields cannot be deleted" in response.get_data(as_text=True) or "Only custom fields" in \
            response.get_data(as_text=True)
    assert owner_client.get(f"/fields/{first_name.id}/delete").status_code == 400
    assert Field.get_or_none(Field.id == first_name.id) is not None


def test_reorder_with_up_and_down(owner, owner_client):
    a, b, c = (make_field(owner.account_id, key, key.upper()) for key in ("aa", "bb", "cc"))
    assert post(owner_client, f"/fields/{c.id}/move", {"direction": "up"}).status_code == 303
    assert labels_in_order(owner_client.get("/fields").get_data(as_text=True))[3:] == ["AA", "CC", "BB"]
    response = post(owner_client, f"/fields/{a.id}/move", {"direction": "down"}, htmx=True)
    assert response.status_code == 200 and labels_in_order(response.get_data(as_text=True))[3:] == ["CC", "AA", "BB"]
    response = post(owner_client, f"/fields/{c.id}/move", {"direction": "up"}, htmx=True)  # already first: stays
    assert labels_in_order(response.get_data(as_text=True))[3:] == ["CC", "AA", "BB"]
    assert post(owner_client, f"/fields/{b.id}/move", {"direction": "sideways"}).status_code == 400


def test_delete_names_the_count_then_removes_every_value(app, owner, owner_client):
    plain = make_field(owner.account_id, "shoe", "Shoe size", "number")
    sealed = make_field(owner.account_id, "secret", "Secret", encrypted=True)
    ann = make_contact(app, owner.account_id, email="ann@example.com", shoe="38", secret="Ann's secret")
    bob = make_contact(app, owner.account_id, email="bob@example.com", shoe="44")
    make_contact(app, owner.account_id, email="cy@example.com")

    fragment = owner_client.get(f"/fields/{plain.id}/delete", headers=HTMX).get_data(as_text=True)
    assert "Delete the field Shoe size?" in fragment and "2 contacts have a value for it" in fragment
    assert fragment.lstrip().startswith("<tr")
    page = owner_client.get(f"/fields/{sealed.id}/delete").get_data(as_text=True)
    assert "<html" in page and "1 contact has a value for it" in page

    assert post(owner_client, f"/fields/{plain.id}/delete").status_code == 303
    response = post(owner_client, f"/fields/{sealed.id}/delete", htmx=True)
    assert response.status_code == 200 and "The field Secret is being deleted." in response.get_data(as_text=True)
    assert Field.for_account(owner.account_id).where(Field.key.in_(["shoe", "secret"])).count() == 0
    for contact in (ann, bob):
        stored = Contact.get_by_id(contact.id)
        assert stored.attributes == {} and stored.sealed == {}
    job = Job.select().where(Job.kind == "field_delete").order_by(Job.id.desc()).first()
    assert job.status == "done" and job.result == {"removed": 1}
    progress = owner_client.get(f"/fields/jobs/{job.id}", headers=HTMX).get_data(as_text=True)
    assert "the value was removed from 1 contact" in progress and "every 1s" not in progress

    # The key is free again, and a new field of that key starts empty.
    assert create_field(owner_client, {"key": "secret", "label": "Secret", "type": "text"}).status_code == 303
    assert read_back(app, ann) == ({"email": "ann@example.com", "first_name": None, "last_name": None,
                                    "secret": None}, {})


def test_another_accounts_field_is_not_found(owner, owner_client):
    theirs = make_field(make_account("Other").id, "colour", "Their colour")
    their_job = Job.create(account=theirs.account_id, kind="field_encryption", params={"field_id": theirs.id})
    for method, url, data in [("GET", f"/fields/{theirs.id}", None), ("GET", f"/fields/{theirs.id}/edit", None),
                              ("POST", f"/fields/{theirs.id}", {"label": "Mine now"}),
                              ("POST", f"/fields/{theirs.id}/move", {"direction": "up"}),
                              ("GET", f"/fields/{theirs.id}/delete", None), ("POST", f"/fields/{theirs.id}/delete", {}),
                              ("GET", f"/fields/jobs/{their_job.id}", None)]:
        for htmx in (False, True):
            if method == "GET":
                response = owner_client.get(url, headers=HTMX if htmx else {})
            else:
                response = post(owner_client, url, data, htmx=htmx)
            assert response.status_code == 404, (method, url)
            assert "Their colour" not in response.get_data(as_text=True)
    assert Field.get_by_id(theirs.id).label == "Their colour"


def test_only_field_jobs_are_shown_on_the_fields_page(owner, owner_client):
    other_kind = Job.create(account=owner.account_id, kind="bulk_action", params={})
    assert owner_client.get(f"/fields/jobs/{other_kind.id}").status_code == 404


def test_turning_encryption_on_and_off_moves_every_value(app, owner, owner_client):
    account_id = owner.account_id
    colour = make_field(account_id, "colour", "Colour", "choice", choices=["Red", "Blue"])
    age = make_field(account_id, "age", "Age", "number")
    people = [make_contact(app, account_id, email=f"person{n}@example.com", last_name=f"Lastname{n}",
                           colour="red" if n % 2 else "Blue", age=str(20 + n)) for n in range(5)]
    make_contact(app, account_id, email="nobody@example.com")
    before = [read_back(app, person) for person in people]
    email, last_name = (Field.get(account=account_id, key=key) for key in ("email", "last_name"))

    response = post(owner_client, f"/fields/{colour.id}", {"label": "Colour", "choices": "Red\nBlue",
                                                           "encrypted": "y"}, htmx=True)
    assert response.status_code == 200 and "Encrypted" in response.get_data(as_text=True)
    for target in (last_name, email):
        assert post(owner_client, f"/fields/{target.id}", {"encrypted": "y"}).status_code == 303

    for person, values in zip(people, before):
        stored = Contact.get_by_id(person.id)
        assert stored.email is None and stored.last_name is None and stored.first_name is None
        assert set(stored.sealed) == {"email", "last_name", "colour"} and stored.attributes == {"age": values[0]["age"]}
        assert read_back(app, person) == values
    jobs = list(Job.select().where(Job.kind == "field_encryption").order_by(Job.id))
    assert [(job.status, job.result) for job in jobs] == [("done", {"moved": 5}), ("done", {"moved": 5}),
                                                         ("done", {"moved": 6})]
    with app.app_context():
        assert audience.find_by_email(account_id, "PERSON3@example.com").id == people[3].id
    assert Field.get_by_id(colour.id).encrypted and not Field.get_by_id(age.id).encrypted

    for target in (colour, email, last_name):
        assert post(owner_client, f"/fields/{target.id}", {"label": "Colour", "choices": "Red\nBlue",
                                                           "encrypted": ""}).status_code == 303
    for person, values in zip(people, before):
        stored = Contact.get_by_id(person.id)
        assert stored.sealed == {} and stored.email == values[0]["email"]
        assert stored.attributes == {"colour": values[0]["colour"], "age": values[0]["age"]}
        assert read_back(app, person) == values


def test_progress_partial_polls_until_the_job_is_done(owner, owner_client):
    field = make_field(owner.account_id, "colour", "Colour")
    job = Job.create(account=owner.account_id, kind="field_encryption", status="running", total=10, done=5,
                     params={"field_id": field.id, "key": "colour", "label": "Colour", "encrypted": True})
    running = owner_client.get(f"/fields/jobs/{job.id}", headers=HTMX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in running and "Encrypting the values" in running and "50 %" in running
    page = owner_client.get("/fields").get_data(as_text=True)
    assert f'id="field-job-{job.id}"' in page  # the row of the field shows its progress
    assert "<html" in owner_client.get(f"/fields/jobs/{job.id}").get_data(as_text=True)

    # While the values move, the field's encryption cannot be changed again, nor the field deleted.
    response = post(owner_client, f"/fields/{field.id}", {"label": "Colour"}, htmx=True)
    assert response.status_code == 422 and "busy with a background job" in response.get_data(as_text=True)
    assert owner_client.get(f"/fields/{field.id}/delete").status_code == 409
    assert post(owner_client, f"/fields/{field.id}", {"label": "Hue", "encrypted": "y"}).status_code == 303

    Job.update(status="done", done=10, result={"moved": 10}).where(Job.id == job.id).execute()
    done = owner_client.get(f"/fields/jobs/{job.id}", headers=HTMX).get_data(as_text=True)
    assert "every 1s" not in done and "Encrypted (10 values encrypted)." in done
    Job.update(status="failed").where(Job.id == job.id).execute()
    assert "nothing was lost" in owner_client.get(f"/fields/jobs/{job.id}", headers=HTMX).get_data(as_text=True)


def test_members_see_and_change_fields_too(app, client):
    from tests.conftest import login

    account = make_account("Team")
    make_user(account, role="owner")
    member = make_user(account, role="member")
    login(client, member)
    assert client.get("/fields").status_code == 200
    assert create_field(client, {"key": "city", "label": "City", "type": "text"}).status_code == 303


def test_an_encryption_change_that_stopped_is_finished_by_saving_again(app, owner, owner_client, monkeypatch):
    from sendtex.tasks import fields as field_tasks

    nickname = make_field(owner.account_id, "nickname", "Nickname")
    people = [make_contact(app, owner.account_id, email=f"n{n}@example.com", nickname=f"Nick {n}") for n in range(6)]
    monkeypatch.setattr(field_tasks, "CHUNK", 2)
    real_step = field_tasks.step

    def dying_step(job, done=None):
        if done == 2:
            raise RuntimeError("the database went away")
        real_step(job, done)

    monkeypatch.setattr(field_tasks, "step", dying_step)
    data = {"label": "Nickname", "encrypted": "y"}
    assert post(owner_client, f"/fields/{nickname.id}", data).status_code == 303
    assert Job.get(Job.kind == "field_encryption").status == "failed"
    assert "stopped before it was finished" in owner_client.get("/fields").get_data(as_text=True)
    assert sum("nickname" in Contact.get_by_id(p.id).attributes for p in people) == 4

    monkeypatch.setattr(field_tasks, "step", real_step)
    assert post(owner_client, f"/fields/{nickname.id}", data).status_code == 303
    assert "stopped before it was finished" not in owner_client.get("/fields").get_data(as_text=True)
    assert all(Contact.get_by_id(p.id).attributes == {} for p in people)
    assert [read_back(app, p)[0]["nickname"] for p in people] == [f"Nick {n}" for n in range(6)]


def test_values_left_by_a_deletion_that_stopped_never_reach_a_new_field(app, owner, owner_client):
    secret = make_field(owner.account_id, "secret", "Secret", encrypted=True)
    person = make_contact(app, owner.account_id, email="ann@example.com", secret="Old secret")
    secret.delete_instance()  # as if the deletion job died right after its first step
    Job.create(account=owner.account_id, kind="field_delete", status="failed",
               params={"field_id": secret.id, "key": "secret", "label": "Secret"})

    assert create_field(owner_client, {"key": "secret", "label": "New secret", "type": "text"}).status_code == 303
    assert "secret" not in Contact.get_by_id(person.id).sealed
    assert read_back(app, person)[0]["secret"] is None
