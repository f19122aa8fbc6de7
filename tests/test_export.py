"""CSV export of a list, a segment and all contacts: decrypted, spreadsheet-safe, streamed, scoped to the account."""
import csv
import datetime
import io
import os

import pytest

from sendtex import csvexport
from sendtex.audience import FieldSet, create_contact
from sendtex.crypto import new_key_text
from sendtex.models.contacts import Contact, Field, MailingList, Segment
from tests.conftest import make_account

FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1:A9)", "\tx", "\rx"]


def make_field(account, key, type="text", **kw):
    return Field.create(account=account, key=key, label=key.title(), type=type, **kw)


def make_contact(account, email, lists=(), subscription_status="subscribed", **values):
    return create_contact(FieldSet(account.id), {"email": email, **values}, list_ids=[l.id for l in lists],
                          subscription_status=subscription_status)


def read_csv(response):
    """The rows of a CSV download, after checking its BOM."""
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@pytest.fixture
def acme(app, owner):
    """The owner's account: encrypted last name and note, plain custom fields, two lists."""
    account = owner.account
    with app.app_context():
        FieldSet(account.id)
        Field.update(encrypted=True).where(Field.account == account.id, Field.key == "last_name").execute()
        make_field(account, "note", encrypted=True)
        make_field(account, "age", "number")
        make_field(account, "vip", "boolean")
        make_field(account, "born", "date")
        account.news = MailingList.create(account=account, name="Nieuws & Acties — 2026")
        account.other_list = MailingList.create(account=account, name="Other")
        make_contact(account, "ann@example.com", [account.news], first_name="Ann", last_name="Ñúñez",
                     note="Likes “quotes”, commas", age=42, vip=True, born="1984-02-29")
        make_contact(account, "bob@example.com", [account.news], "unconfirmed", first_name="=cmd|' /C calc'!A0",
                     last_name="+1", note="@SUM(A1:A9)", age=-1)
        make_contact(account, "cy@example.com", [account.other_list], first_name="Cy")
    return account


def test_list_export_has_every_field_decrypted_and_the_membership(owner_client, acme):
    response = owner_client.get(f"/lists/{acme.news.id}/export.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    today = datetime.date.today().isoformat()
    assert response.headers["Content-Disposition"] == f"attachment; filename=nieuws-acties-2026-{today}.csv"
    assert response.headers["Cache-Control"] == "no-store"
    header, *rows = read_csv(response)
    assert header == ["email", "first_name", "last_name", "status", "note", "age", "vip", "born",
                      "list_status", "subscribed_at", "confirmed_at", "unsubscribed_at"]
    assert [row[:9] for row in rows] == [
        ["ann@example.com", "Ann", "Ñúñez", "active", "Likes “quotes”, commas", "42", "yes", "1984-02-29", "subscribed"],
        ["bob@example.com", "'=cmd|' /C calc'!A0", "'+1", "active", "'@SUM(A1:A9)", "'-1", "", "", "unconfirmed"],
    ]
    subscribed_at = datetime.datetime.strptime(rows[0][9], "%Y-%m-%d %H:%M:%S")
    assert abs(subscribed_at - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)) < datetime.timedelta(minutes=5)
    assert rows[0][10] == rows[0][9] and rows[1][10] == "" and rows[0][11] == ""


def test_segment_export_has_only_its_contacts(owner_client, acme):
    segment = Segment.create(account=acme, name="Grown-ups", conditions=[{"field": "age", "op": "gt", "value": 18}])
    response = owner_client.get(f"/segments/{segment.id}/export.csv")
    assert response.status_code == 200 and response.is_streamed
    header, *rows = read_csv(response)
    assert "list_status" not in header
    assert [row[0] for row in rows] == ["ann@example.com"]
    assert rows[0][2] == "Ñúñez"


def test_all_contacts_export(owner_client, acme):
    header, *rows = read_csv(owner_client.get("/contacts/export.csv"))
    assert header[:4] == ["email", "first_name", "last_name", "status"]
    assert [row[0] for row in rows] == ["ann@example.com", "bob@example.com", "cy@example.com"]


def test_every_formula_start_is_neutralised():
    assert [csvexport.neutralise(cell) for cell in FORMULAS] == ["'" + cell for cell in FORMULAS]
    assert [csvexport.neutralise(cell) for cell in ["a=1", " =1", "", None, 5, -5, "'x"]] == \
        ["a=1", " =1", "", "", "5", "'-5", "'x"]
    text = "".join(csvexport.csv_chunks(["=header"], [FORMULAS]))
    header, row = csv.reader(io.StringIO(text[1:], newline=""))
    assert header == ["'=header"] and row == ["'" + cell for cell in FORMULAS]


def test_values_that_bypassed_validation_are_neutralised_too(app, owner_client, acme):
    with app.app_context():
        make_field(acme, "city")
        Contact.update(attributes={"city": "\t=1+1"}, first_name="\r@x").where(Contact.email == "cy@example.com").execute()
    header, *rows = read_csv(owner_client.get(f"/lists/{acme.other_list.id}/export.csv"))
    row = dict(zip(header, rows[0]))
    assert row["city"] == "'\t=1+1" and row["first_name"] == "'\r@x"


def test_a_value_that_cannot_be_decrypted_is_reported_and_the_row_kept(app, owner_client, acme):
    # The key ring lost the key the values were sealed with.
    app.config["FIELD_KEYS"] = f"k9:{new_key_text()}"
    app.extensions.pop("sendtex.cipher", None)
    header, *rows = read_csv(owner_client.get(f"/lists/{acme.news.id}/export.csv"))
    ann = dict(zip(header, rows[0]))
    assert ann["email"] == "ann@example.com" and ann["first_name"] == "Ann" and ann["age"] == "42"
    assert ann["last_name"] == ann["note"] == "[cannot be decrypted]"
    assert len(rows) == 2


def test_another_accounts_list_and_segment_are_not_found(owner_client, acme):
    other = make_account("Other")
    theirs = MailingList.create(account=other, name="Theirs")
    segment = Segment.create(account=other, name="Theirs", conditions=[])
    for url in [f"/lists/{theirs.id}/export.csv", f"/segments/{segment.id}/export.csv", "/lists/0/export.csv",
                f"/lists/{2**64}/export.csv"]:
        response = owner_client.get(url)
        assert response.status_code == 404, url
        assert "This page does not exist" in response.get_data(as_text=True)


def test_export_needs_a_login(client, acme):
    response = client.get(f"/lists/{acme.news.id}/export.csv")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_many_contacts_stream_in_keyset_pages_without_files(app, owner_client, acme, monkeypatch):
    with app.app_context():
        rows = [dict(account=acme.id, uid=f"uid{n}", email=f"u{n:04d}@example.com", email_digest=f"{n:032x}",
                     attributes={"age": n}) for n in range(2500)]
        Contact.insert_many(rows).execute()
    monkeypatch.setattr(csvexport, "PAGE_SIZE", 1000)
    files = lambda: {name for name in os.listdir(app.instance_path) if not name.startswith("sendtex.db")}  # noqa: E731
    before = files()
    response = owner_client.get("/contacts/export.csv")
    chunks = list(response.response)
    assert len(chunks) >= 3
    text = "".join(chunk.decode() if isinstance(chunk, bytes) else chunk for chunk in chunks)
    assert text.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(text[1:], newline=""))
    assert len(rows) == 2503
    assert rows[-1][0] == "u2499@example.com" and rows[-1][header.index("age")] == "2499"
    assert files() == before


def test_keyset_pages_read_every_row_once(app, acme):
    with app.app_context():
        emails = [contact.email for contact in csvexport.keyset_pages(Contact.for_account(acme.id), page_size=2)]
    assert emails == ["ann@example.com", "bob@example.com", "cy@example.com"]


def test_export_filenames_are_safe():
    today = datetime.date.today().isoformat()
    assert csvexport.export_filename('"; rm -rf / ; \r\nX-Evil: 1') == f"rm-rf-x-evil-1-{today}.csv"
    assert csvexport.export_filename("日本語", "list") == f"list-{today}.csv"
    assert csvexport.export_filename("Café Ünïcode") == f"cafe-unicode-{today}.csv"
