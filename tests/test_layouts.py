"""Layouts: reusable HTML around a campaign's content, with a {{ content }} slot."""
import html

import pytest

from sendtex.models.campaigns import Campaign, Layout
from tests.conftest import make_account, post

HTMX = {"HX-Request": "true"}
BRAND = '<div class="brand">{{ content }}<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></div>'


def text(response):
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def layout(owner):
    return Layout.create(account=owner.account, name="Brand", html=BRAND)


def test_index_lists_own_layouts_and_offers_a_starter(owner_client, owner, layout):
    Layout.create(account=make_account("Other"), name="Their layout", html=BRAND)
    full, fragment = owner_client.get("/layouts"), owner_client.get("/layouts", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert "Brand" in text(fragment) and "Their layout" not in text(full)
    assert "{{ content }}" in text(fragment).split('id="layout-create-form"')[1]  # the starter layout


def test_empty_index_explains_layouts(owner_client):
    assert "You have no layouts yet." in text(owner_client.get("/layouts"))


@pytest.mark.parametrize("htmx", [False, True])
def test_create_layout(owner_client, owner, htmx):
    response = post(owner_client, "/layouts", {"name": "  Brand  ", "html": BRAND}, htmx=htmx)
    created = Layout.get(Layout.account == owner.account_id)
    assert response.headers["HX-Redirect" if htmx else "Location"] == f"/layouts/{created.id}"
    assert (created.name, created.html) == ("Brand", BRAND)
    assert "The layout “Brand” is created." in text(owner_client.get(f"/layouts/{created.id}"))


@pytest.mark.parametrize("data, message", [
    ({"name": "Brand", "html": "<div>no slot</div>"}, "Put {{ content }} where the campaign's content goes."),
    ({"name": "", "html": BRAND}, "Give the layout a name."),
    ({"name": "Brand", "html": ""}, "Write the layout's HTML."),
    ({"name": "Brand", "html": "<div>{{ content }}</div>\n{{ contact.shoe_size }}"}, "Line 2: Unknown field"),
    ({"name": "Brand", "html": "{{ content }}{% for x in y %}{% endfor %}"},
     "Line 1: Not available in campaign templates"),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_create_refuses_bad_layouts(owner_client, owner, data, message, htmx):
    response = post(owner_client, "/layouts", data, htmx=htmx)
    assert response.status_code == 422
    assert message in text(response)
    assert ("<html" in response.get_data(as_text=True)) is not htmx
    assert not Layout.select().exists()


def test_layout_page(owner_client, layout):
    for headers in ({}, HTMX):
        response = owner_client.get(f"/layouts/{layout.id}", headers=headers)
        assert response.status_code == 200 and 'id="layout-form"' in text(response)
        assert BRAND in text(response)


def test_edit_layout(owner_client, layout):
    response = post(owner_client, f"/layouts/{layout.id}", {"name": "Brand 2", "html": "<main>{{ content }}</main>"})
    assert response.status_code == 303 and response.headers["Location"] == f"/layouts/{layout.id}"
    saved = Layout.get_by_id(layout.id)
    assert (saved.name, saved.html) == ("Brand 2", "<main>{{ content }}</main>")
    assert saved.updated_at > layout.updated_at


def test_edit_layout_with_htmx_answers_the_form(owner_client, layout):
    response = post(owner_client, f"/layouts/{layout.id}", {"name": "Brand 2", "html": BRAND}, htmx=True)
    assert response.status_code == 200
    assert '<form id="layout-form"' in text(response) and "The layout “Brand 2” is saved." in text(response)


@pytest.mark.parametrize("htmx", [False, True])
def test_edit_refuses_a_layout_without_slot(owner_client, layout, htmx):
    response = post(owner_client, f"/layouts/{layout.id}", {"name": "Brand", "html": "<div></div>"}, htmx=htmx)
    assert response.status_code == 422
    assert "Put {{ content }} where the campaign's content goes." in text(response)
    assert Layout.get_by_id(layout.id).html == BRAND


@pytest.mark.parametrize("htmx", [False, True])
def test_delete_unused_layout(owner_client, layout, htmx):
    response = post(owner_client, f"/layouts/{layout.id}/delete", htmx=htmx)
    assert response.headers["HX-Redirect" if htmx else "Location"] == "/layouts"
    assert not Layout.select().exists()


def test_a_layout_in_use_is_not_deleted(owner_client, owner, layout):
    Campaign.create(account=owner.account, name="Uses it", layout=layout.id, status="sent")
    page = text(owner_client.get(f"/layouts/{layout.id}"))
    assert "1 campaign uses this layout, so it cannot be deleted." in page
    response = post(owner_client, f"/layouts/{layout.id}/delete")
    assert response.status_code == 422
    assert "is used by 1 campaign and cannot be deleted" in text(response)
    assert Layout.select().exists()


def test_layout_name_is_shown_escaped(owner_client, owner):
    layout = Layout.create(account=owner.account, name="<script>alert(1)</script>", html=BRAND)
    for url in ["/layouts", f"/layouts/{layout.id}"]:
        body = owner_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_campaign_preview_uses_the_layout(owner_client, owner, layout):
    campaign = Campaign.create(account=owner.account, name="News", html="<p>Inside</p>", layout=layout.id)
    body = owner_client.get(f"/campaigns/{campaign.id}/preview").get_data(as_text=True)
    assert '<div class="brand"><p>Inside</p><p><a href="' in body
