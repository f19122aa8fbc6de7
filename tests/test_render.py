"""Campaign templates: merge tags, checks with line numbers, the sandbox, links, the open image and the text part."""
import random
import re
import time

import pytest

from sendtex.models.accounts import Account

from sendtex import audience
from sendtex.mail import render
from sendtex.mail.links import CLICK, OPEN, UNSUBSCRIBE, read_token
from sendtex.mail.text import html_to_text
from sendtex.models.campaigns import Campaign, Layout, Link
from sendtex.models.contacts import Contact, Field
from tests.conftest import make_account

BASE = "https://mail.example.org"

PAGE = """<html><head><title>{{ campaign.subject }}</title></head>
<body>
<h1>Hi {{ contact.first_name | default("there") }}!</h1>
<p>Visit <a href="https://shop.example.com/new?a=1&amp;b=2">our shop</a>, <a href='http://blog.example.com/'>the blog</a>
or <a href="mailto:help@example.com">write us</a>, <a href="tel:+3112345">call</a>, <a href="#end">skip</a>,
<a href="/relative">relative</a>, <a href="{{ unsubscribe_url }}">unsubscribe</a>,
<a href="https://example.com/u?id={{ contact.city }}">personal</a>.</p>
<p><a href="https://shop.example.com/new?a=1&amp;b=2">Again the shop</a></p>
</body>
</html>"""


@pytest.fixture
def app(tmp_path):
    from tests.conftest import make_app
    from sendtex.db import db

    app = make_app(tmp_path, BASE_URL=BASE)
    with app.app_context():
        yield app
    if not db.is_closed():
        db.close()


@pytest.fixture
def account(app):
    account = make_account("Acme")
    Field.ensure_builtins(account.id)
    Field.create(account=account, key="city", label="City", position=10)
    Field.create(account=account, key="secret_code", label="Secret code", encrypted=True, position=11)
    return account


@pytest.fixture
def fields(account):
    return audience.FieldSet(account.id)


def make_contact(fields, **values):
    values.setdefault("email", "ann@example.com")
    return audience.create_contact(fields, values)


def make_campaign(account, html=PAGE, **columns):
    columns.setdefault("subject", "News for {{ contact.first_name | default('you') }}")
    return Campaign.create(account=account, name="November", html=html, **columns)


def values_of(contact, fields):
    return audience.read_values(Contact.get_by_id(contact.id), fields)[0]


def problems(source, fields, part="html"):
    return [(problem.line, str(problem.message)) for problem in render.check(source, fields, part)]


# Merge tags


def test_merge_tags_of_builtin_custom_and_encrypted_fields(account, fields):
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "first_name")).execute()
    fields = audience.FieldSet(account.id)
    contact = make_contact(fields, first_name="Ann", city="Utrecht", secret_code="XK-42")
    stored = Contact.get_by_id(contact.id)
    assert stored.first_name is None and "Ann" not in str(stored.sealed)  # encrypted at rest
    assert "XK-42" not in str(stored.sealed) and "XK-42" not in str(stored.attributes)
    campaign = make_campaign(account, html="<p>{{ contact.first_name }} from {{ contact.city }}: "
                                           "{{ contact['secret_code'] }} ({{ contact.email }})</p>")
    message = render.compile_campaign(campaign, fields).render(values_of(contact, fields), 1, contact.uid)
    assert "<p>Ann from Utrecht: XK-42 (ann@example.com)</p>" in message.html
    assert message.subject == "News for Ann"
    assert "Ann from Utrecht: XK-42" in message.text


def test_default_applies_to_empty_and_missing_values(account, fields):
    campaign = make_campaign(account, html='<p>Hi {{ contact.first_name | default("there") }}, '
                                           '{{ contact.city | d("somewhere") }}. {{ contact.last_name }}.</p>')
    compiled = render.compile_campaign(campaign, fields)
    empty = make_contact(fields, first_name="", city=None)
    assert "<p>Hi there, somewhere. .</p>" in compiled.render(values_of(empty, fields)).html
    assert "<p>Hi there, somewhere. .</p>" in compiled.render({}).html  # a field deleted after compiling
    assert compiled.render({"first_name": "Bo", "city": "Gent"}).subject == "News for Bo"


def test_campaign_name_and_subject_are_available(account, fields):
    campaign = make_campaign(account, html="<h1>{{ campaign.name }}: {{ campaign.subject }}</h1>")
    message = render.compile_campaign(campaign, fields).render({"first_name": "Ann"})
    assert "<h1>November: News for Ann</h1>" in message.html


def test_contact_values_are_escaped_in_html_and_plain_in_text(account, fields):
    contact = make_contact(fields, first_name='<script>alert("x")</script>', city="<b>&</b>")
    campaign = make_campaign(account, html="<p>{{ contact.first_name }} {{ contact.city }}</p>",
                             preheader="{{ contact.city }}")
    message = render.compile_campaign(campaign, fields).render(values_of(contact, fields), 1, contact.uid)
    assert "<script>" not in message.html and "<b>" not in message.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;&amp;&lt;/b&gt;" in message.html
    assert '<script>alert("x")</script> <b>&</b>' in message.text  # text/plain is never interpreted
    assert message.subject == 'News for <script>alert("x")</script>'  # the message module encodes headers


def test_a_values_with_line_breaks_cannot_break_the_subject(account, fields):
    campaign = make_campaign(account, subject="Hello {{ contact.city }}")
    assert render.compile_campaign(campaign, fields).render({"city": "a\r\nBcc: x@evil.example"}).subject == \
        "Hello a Bcc: x@evil.example"


# Checks at save and preview time


def test_unknown_field_is_reported_with_its_line(fields):
    source = "<p>Hello</p>\n<p>{{ contact.first_name }}</p>\n<p>{{ contact.shoe_size | default('?') }}</p>"
    assert problems(source, fields) == [
        (3, "Unknown field “shoe_size”: this account has no contact field with that key.")]
    assert problems("{{ contact['shoe size'] }}", fields)[0][1].startswith("Unknown field “shoe size”")


def test_syntax_error_is_reported_with_its_line(fields):
    found = problems("<p>one</p>\n<p>two</p>\n{% if contact.city %}\n<p>never closed</p>", fields)
    assert len(found) == 1 and found[0][1].startswith("Syntax error:")
    found = problems("line\n{{ contact.city }\n", fields)
    assert found[0][0] == 2 and found[0][1].startswith("Syntax error:")


def test_known_templates_have_no_problems(fields):
    assert problems(PAGE, fields) == []
    assert problems('{% set name = contact.first_name | default("friend") | title %}{% if name == "Ann" %}A'
                    '{% elif contact.city is none %}B{% else %}{{ name ~ "!" }}{% endif %}', fields) == []
    assert problems("Hi {{ contact.first_name[:1] | upper }}. {{ preferences_url }} {{ view_in_browser_url }}",
                    fields, "text") == []


def test_check_campaign_names_the_part(account, fields):
    campaign = make_campaign(account, subject="Hi {{ contact.nick }}", preheader="{{ nope }}",
                             html="<p>\n{% for x in contact.city %}{% endfor %}</p>",
                             text_by_hand=True, text="ok\n\n{{ contact.first_name }")
    found = {(problem.part, problem.line) for problem in render.check_campaign(campaign, fields)}
    assert found == {("subject", 1), ("preheader", 1), ("html", 2), ("text", 3)}
    with pytest.raises(render.TemplateProblems) as raised:
        render.compile_campaign(campaign, fields)
    assert len(raised.value.problems) == 4


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ config }}",
    "{{ config.SECRET_KEY }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ request }}",
    "{{ request.environ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ namespace }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ range(10) }}",
    "{{ contact.__class__ }}",
    "{{ contact._values }}",
    "{{ contact }}",
    "{{ unsubscribe_url.format(1) }}",
    "{{ contact.first_name.upper() }}",
    "{{ contact.first_name | attr('__class__') }}",
    "{{ contact.first_name | safe }}",
    "{{ 'a' | center(10**9) }}",
    "{{ '%s' | format(1) }}",
    "{% autoescape false %}{{ contact.first_name }}{% endautoescape %}",
    "{% macro m() %}{% endmacro %}",
    "{% include 'base.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'base.html' as b %}",
    "{% set x %}{{ contact.first_name }}{% endset %}",
    "{% set contact = 1 %}",
    "{% set _stx_links = 1 %}",
    "{{ _stx_links[1] }}",
    "{{ {'a': 1} }}",
    "{% filter upper %}x{% endfilter %}",
])
def test_sandbox_escapes_are_refused_at_check_time(fields, source):
    assert problems(source, fields), source


def test_the_environment_itself_has_no_way_out():
    # Even a template that skipped the checks finds no globals, and the sandbox refuses internals.
    assert render.HTML_ENV.from_string("{{ config }}{{ request }}{{ range }}{{ lipsum }}{{ cycler }}").render() == ""
    for source in ("{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}",
                   "{% for i in range(10**9) %}x{% endfor %}"):
        with pytest.raises(Exception) as raised:
            render.HTML_ENV.from_string(source).render()
        assert type(raised.value).__name__ in ("SecurityError", "UndefinedError")


@pytest.mark.parametrize("source", [
    "{{ 'a' * 10**9 }}",
    "{{ ['a'] * 10**9 }}",
    "{{ 9 ** 9999999 }}",
    "{{ '%0999999999d' % 1 }}",
    "{% set a = 'x' * 60000 %}{{ a ~ a }}",
    "{% set a = 'x' * 60000 %}{{ a + a }}",
    "{{ ('x' * 90000) | replace('x', 'yy') }}",
    "{{ ('&' * 90000) | e | upper }}",
])
def test_memory_and_time_bombs_fail_fast(account, fields, source):
    campaign = make_campaign(account, html=source)
    compiled = render.compile_campaign(campaign, fields)
    started = time.perf_counter()
    with pytest.raises(render.RenderError):
        compiled.render({})
    assert time.perf_counter() - started < 1


def test_the_output_of_a_message_is_bounded(account, fields):
    campaign = make_campaign(account, html="{% set a = 'x' * 90000 %}" + "{{ a }}" * 30)
    with pytest.raises(render.RenderError, match="too large"):
        render.compile_campaign(campaign, fields).render({})


def test_character_references_cannot_smuggle_merge_tags_into_the_text_part(account, fields):
    campaign = make_campaign(account, html="<p>&#123;&#123; config &#125;&#125; {&#37; if 1 %&#125;</p>")
    message = render.compile_campaign(campaign, fields).render({})
    assert "{{ config }} {% if 1 %}" in message.text


# Links, the open image, the preheader


def test_links_are_rewritten_with_positions_and_stored(account, fields):
    campaign = make_campaign(account)
    compiled = render.compile_campaign(campaign, fields)
    assert compiled.link_urls == ["https://shop.example.com/new?a=1&b=2", "http://blog.example.com/",
                                  "https://shop.example.com/new?a=1&b=2"]
    links = list(Link.select().where(Link.campaign == campaign.id).order_by(Link.position))
    assert [(link.position, link.url) for link in links] == list(enumerate(compiled.link_urls, 1))

    html = compiled.render({"first_name": "Ann", "city": "Gent"}, 42, "uid42").html
    hrefs = re.findall(r'href="([^"]*)"', html) + re.findall(r"href='([^']*)'", html)
    tracked = [href for href in hrefs if href.startswith(BASE + "/t/c/")]
    assert [read_token(CLICK, href.rsplit("/", 1)[1]) for href in tracked] == [(42, 1), (42, 3), (42, 2)]
    # Left alone: mailto:, tel:, anchors, relative links, merge-tag URLs.
    for kept in ("mailto:help@example.com", "tel:+3112345", "#end", "/relative", "https://example.com/u?id=Gent"):
        assert kept in hrefs
    unsubscribe = [href for href in hrefs if href.startswith(BASE + "/u/")]
    assert len(unsubscribe) == 1 and read_token(UNSUBSCRIBE, unsubscribe[0].rsplit("/", 1)[1]) == (campaign.id, "uid42")
    assert "shop.example.com" not in html and "blog.example.com" not in html


def test_compiling_twice_keeps_one_row_per_link(account, fields):
    campaign = make_campaign(account)
    render.compile_campaign(campaign, fields)
    render.compile_campaign(campaign, fields)
    assert Link.select().where(Link.campaign == campaign.id).count() == 3


def test_open_image_goes_just_before_the_end_of_the_body(account, fields):
    compiled = render.compile_campaign(make_campaign(account), fields)
    html = compiled.render({}, 42, "uid").html
    match = re.search(r'<img src="([^"]+)" width="1" height="1" alt="">\s*</body>', html)
    assert match and read_token(OPEN, match.group(1).rsplit("/t/o/", 1)[1]) == (42,)
    assert html.count("/t/o/") == 1


def test_open_image_without_a_body_tag_goes_at_the_end(account, fields):
    html = render.compile_campaign(make_campaign(account, html="<p>Hi</p>"), fields).render({}, 5).html
    assert html.startswith("<p>Hi</p>") and html.endswith('width="1" height="1" alt="">')


def test_tracking_switches_per_campaign(account, fields):
    campaign = make_campaign(account, track_opens=False, track_clicks=False)
    html = render.compile_campaign(campaign, fields).render({}, 42, "uid").html
    assert "/t/o/" not in html and "/t/c/" not in html
    assert 'href="https://shop.example.com/new?a=1&amp;b=2"' in html
    assert not Link.select().where(Link.campaign == campaign.id).exists()


def test_tracking_switches_per_account(account, fields):
    Account.update(track_opens=False).where(Account.id == account.id).execute()
    html = render.compile_campaign(Campaign.get_by_id(make_campaign(account).id), fields).render({}, 42, "uid").html
    assert "/t/o/" not in html and "/t/c/" in html
    Account.update(track_clicks=False).where(Account.id == account.id).execute()
    html = render.compile_campaign(Campaign.get_by_id(make_campaign(account).id), fields).render({}, 42, "uid").html
    assert "/t/o/" not in html and "/t/c/" not in html


def test_without_a_delivery_nothing_is_tracked(account, fields):
    compiled = render.compile_campaign(make_campaign(account), fields)
    message = compiled.render({}, None, None)  # a test send or a preview
    assert "/t/o/" not in message.html and "/t/c/" not in message.html
    assert 'href="https://shop.example.com/new?a=1&amp;b=2"' in message.html
    assert "https://shop.example.com/new?a=1&b=2" in message.text


def test_preview_compilation_stores_nothing_and_tracks_nothing(account, fields):
    campaign = make_campaign(account)
    html = render.compile_campaign(campaign, fields, for_sending=False).render({}, 42, "uid").html
    assert "/t/" not in html and not Link.select().exists()


def test_preheader_is_hidden_at_the_start_of_the_body(account, fields):
    campaign = make_campaign(account, preheader="Deals for {{ contact.first_name }} & friends")
    message = render.compile_campaign(campaign, fields).render({"first_name": "Ann"})
    body = message.html.split("<body>", 1)[1]
    assert body.startswith(render.PREHEADER_OPEN + "Deals for Ann &amp; friends</div>")
    assert "Deals for" not in message.text


def test_layout_wraps_the_content_and_its_links_are_tracked(account, fields):
    layout = Layout.create(account=account, name="Brand",
                           html='<html><body><div class="brand">{{ content }}</div>'
                                '<p><a href="https://acme.example.com">Acme</a></p></body></html>')
    campaign = make_campaign(account, html='<p>Hi {{ contact.first_name }} <a href="https://x.example.com">x</a></p>',
                             layout=layout)
    compiled = render.compile_campaign(campaign, fields)
    assert compiled.link_urls == ["https://x.example.com", "https://acme.example.com"]
    html = compiled.render({"first_name": "Ann"}, 3).html
    assert '<div class="brand"><p>Hi Ann <a href="' + BASE + '/t/c/' in html
    assert html.index("/t/o/") > html.index("Acme")


def test_layout_without_slot_or_of_another_account_is_refused(account, fields):
    assert problems("<div>no slot</div>", fields, "layout")[0][1].startswith("The layout needs a {{ content }} slot")
    assert problems("<div>{{ content }}</div>", fields, "layout") == []
    assert problems("<div>{{ content | upper }}</div>", fields) != []
    other = Layout.create(account=make_account("Other"), name="Theirs", html="<b>THEIRS</b>{{ content }}")
    campaign = make_campaign(account, html="<p>mine</p>", layout=other)
    assert "THEIRS" not in render.compile_campaign(campaign, fields).render({}).html


# The text part


def test_generated_text_keeps_structure_and_tracks_links(account, fields):
    html = """<html><head><style>p { color: red }</style></head><body>
    <h1>Hello {{ contact.first_name }}</h1>
    <p>Our <a href="https://shop.example.com">new shop</a> is open.
       Write to <a href="mailto:help@example.com">help@example.com</a>.</p>
    {% if contact.city %}<p>See you in {{ contact.city }}.</p>{% endif %}
    <ul><li>One</li><li>Two</li></ul>
    <ol><li>First</li><li>Second</li></ol>
    <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
    </body></html>"""
    compiled = render.compile_campaign(make_campaign(account, html=html), fields)
    text = compiled.render({"first_name": "Ann", "city": "Gent"}, 9, "uid9").text
    click = re.search(r"new shop \((\S+)\) is open", text).group(1)
    assert click.startswith(BASE + "/t/c/") and read_token(CLICK, click.rsplit("/", 1)[1]) == (9, 1)
    assert text.startswith("# Hello Ann\n\nOur new shop (")
    assert "Write to help@example.com." in text
    assert "See you in Gent." in text
    assert "- One\n- Two\n\n1. First\n2. Second" in text
    assert re.search(r"Unsubscribe \(" + re.escape(BASE) + r"/u/\S+\)", text)
    assert "color" not in text and "{" not in text
    no_city = compiled.render({"first_name": "Bo"}, 10, "uid10").text
    assert "See you" not in no_city and "\n\n\n" not in no_city


def test_text_is_generated_per_message_when_logic_sits_where_text_cannot_keep_it(account, fields):
    html = ('<body><p style="{% if contact.city %}color: red{% else %}color: blue{% endif %}">Hi {{ contact.first_name }}'
            ' <a href="https://x.example.com">x</a></p>{% raw %}<p>{{ literally }}</p>{% endraw %}</body>')
    compiled = render.compile_campaign(make_campaign(account, html=html), fields)
    message = compiled.render({"first_name": "Ann", "city": "Gent"}, 8, "uid")
    assert 'style="color: red"' in message.html and "<p>{{ literally }}</p>" in message.html
    assert re.fullmatch(r"Hi Ann x \(" + re.escape(BASE) + r"/t/c/\S+\)\n\n\{\{ literally \}\}", message.text)
    assert "/t/o/" not in message.text


def test_text_written_by_hand_is_used_and_its_urls_tracked(account, fields):
    campaign = make_campaign(account, text_by_hand=True,
                             text="Hi {{ contact.first_name }},\nshop: https://shop.example.com/new?a=1&b=2.\n"
                                  "New: https://other.example.com/x\nBye: {{ unsubscribe_url }}")
    compiled = render.compile_campaign(campaign, fields)
    text = compiled.render({"first_name": "<Ann>"}, 4, "uid").text
    assert text.startswith("Hi <Ann>,\nshop: " + BASE + "/t/c/")
    tokens = re.findall(re.escape(BASE) + r"/t/c/([A-Za-z0-9_-]+)", text)
    assert [read_token(CLICK, token) for token in tokens] == [(4, 1), (4, 4)]  # 1: the HTML's shop link
    assert compiled.link_urls[3] == "https://other.example.com/x"


def test_html_to_text_formats_links_headings_lists_and_quotes():
    text = html_to_text("""<h2>News &amp; more</h2><p>Read <a href="https://a.example/x">this</a> or
        <a href="https://b.example/">https://b.example/</a>.<br>New line</p>
        <ul><li>One<ul><li>Nested</li></ul></li><li>Two</li></ul>
        <blockquote><p>Quoted</p></blockquote><table><tr><td>Cell</td></tr></table>
        <script>alert(1)</script><p><a href="https://c.example"><img src="x.png" alt="Logo"></a></p>""")
    assert text == ("## News & more\n\nRead this (https://a.example/x) or https://b.example/.\nNew line\n\n"
                    "- One\n  - Nested\n- Two\n\n> Quoted\n\nCell\n\nLogo (https://c.example)")



# The fast path: templates of text and simple merge tags render without Jinja, with the same output

FAST_SUBJECTS = ["News for {{ contact.first_name | default('you') }}", "{{ campaign.name }}: {{ contact['city'] }}",
                 "Hi {{ contact.first_name | d('there', true) }} & {{ contact.last_name }} “ok”", "Plain subject"]
FAST_HTMLS = [
    PAGE,
    "<p>{{ contact.first_name }} from {{ contact.city }}: {{ contact['secret_code'] }} ({{ contact.email }})</p>",
    '<p>Hi {{ contact.first_name | default("there") }}, {{ contact.city | d("<somewhere> & \'co\'", true) }}. '
    "{{ contact.last_name | default('', true) }}{{ contact['secret_code'] | default(\"—\") }}</p>",
    "<html><body><h1>{{ campaign.name }} · {{ campaign.subject }}</h1>\n"
    '<a href="{{ preferences_url }}">prefs</a> <a href="{{ view_in_browser_url }}">view</a>'
    ' <a href="https://a.example/?x=1&amp;y=2">a</a> <a href="https://b.example/é">b</a>\n'
    "<p>{{ 'literal {' }} {{ \"<b>&</b>\" }} €</p>{% raw %}{{ kept }}{% endraw %}</body></html>",
    "{# a comment #}<p>{{- contact.first_name -}} &#123;&#123; x &#125;&#125; { } ünïcødé 😀</p>\n\n",
]
FAST_TEXTS = ["Hi {{ contact.first_name | default('you') }},\nhttps://a.example/?x=1&y=2 and https://c.example/\n"
              "{{ unsubscribe_url }} {{ contact.city }} {{ campaign.subject }}"]
TRICKY = ["", " ", "Ann", "<b>Bo</b>", "O'Brien & \"Sons\"", "&amp;", "Zoë ß 東京 😀", "a\r\nBcc: x@evil.example",
          "{{ contact.email }}", "{% if 1 %}", "%s %(x)s", "\u00a0\t", "0", "false"]


def _random_value(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([0, 1, -7, 3.5, True, False, 10**20])
    return "".join(rng.choice(TRICKY) for _ in range(rng.randrange(1, 4)))


def _random_values(rng):
    return {key: _random_value(rng) for key in ("email", "first_name", "last_name", "city", "secret_code")
            if rng.random() < 0.8}  # the rest missing, as for a field deleted after compiling


def _random_html(rng):
    pieces = ["<p>", "</p>\n", "Hi ", " & ", "&amp;", "ü€", "{{ contact.first_name }}", "{{ contact['city'] }}",
              "{{ contact.secret_code | default('-') }}", "{{ contact.last_name | d(\"<none>\", true) }}",
              "{{ contact.email | default('', false) }}", "{{ campaign.name }}", "{{ campaign.subject }}",
              '<a href="https://shop.example/?a=1&amp;b=2">shop</a>', '<a href="{{ unsubscribe_url }}">bye</a>',
              '<a href="https://x.example/{{ contact.city }}">x</a>', "{{ '{' }}", "<h2>Title</h2>", "\n\n"]
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 25)))


def _both_ways(account, fields, tracked=True, **columns):
    campaign = make_campaign(account, track_opens=tracked, track_clicks=tracked, **columns)
    layout = render.layout_html(campaign)
    compiled = [render.CompiledCampaign(campaign, fields, layout, track_opens=tracked, track_clicks=tracked, fast=fast)
                for fast in (True, False)]
    assert compiled[0].fast_parts == {"subject", "html", "text"} and compiled[1].fast_parts == set()
    return compiled


def _assert_same(compiled, values, delivery_id, uid):
    fast, jinja = (each.render(values, delivery_id, uid) for each in compiled)
    assert fast == jinja
    return fast


@pytest.fixture
def encrypted_fields(account):
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "first_name")).execute()
    return audience.FieldSet(account.id)


def test_fast_path_renders_what_jinja_renders(account, encrypted_fields):
    fields, rng = encrypted_fields, random.Random(20261125)
    layout = Layout.create(account=account, name="Brand", html='<html><body><div class="brand">{{ content }}</div>'
                           '<a href="https://acme.example">Acme {{ contact.city }}</a></body></html>')
    contacts = [make_contact(fields, email=f"c{n}@example.com", first_name=name, city=city, secret_code=code)
                for n, (name, city, code) in enumerate([("Ann", "Utrecht", "XK-42"), ("", None, None),
                                                        ('<script>"x"</script>', "A & B", "Zoë 😀")])]
    stored = [(values_of(contact, fields), contact.uid) for contact in contacts]
    assert stored[0][0]["first_name"] == "Ann" and stored[0][0]["secret_code"] == "XK-42"  # decrypted in memory
    campaigns = [dict(subject=subject, html=html, preheader=rng.choice(["", "Deals for {{ contact.first_name }} &"]))
                 for subject in FAST_SUBJECTS for html in FAST_HTMLS]
    campaigns += [dict(html=FAST_HTMLS[2], layout=layout), dict(html=PAGE, text_by_hand=True, text=FAST_TEXTS[0])]
    campaigns += [dict(html=_random_html(rng), subject=rng.choice(FAST_SUBJECTS)) for _ in range(25)]
    rendered = 0
    for columns in campaigns:
        for tracked in (True, False):
            compiled = _both_ways(account, fields, tracked, **columns)
            for values, uid in stored + [({}, None)] + [(_random_values(rng), "uid") for _ in range(25)]:
                for delivery_id in (None, rng.randrange(1, 10**6)):
                    _assert_same(compiled, values, delivery_id, uid)
                    rendered += 1
    assert rendered > 5000
    message = _assert_same(_both_ways(account, fields, subject=FAST_SUBJECTS[2], html=FAST_HTMLS[3]),
                           stored[2][0], 77, stored[2][1])
    assert message.subject == 'Hi <script>"x"</script> & “ok”'  # subject and text are not HTML
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in message.html and "{{ kept }}" in message.html and "/t/o/" in message.html


def test_fast_path_output_is_escaped_like_jinja(account, fields):
    compiled = _both_ways(account, fields, subject=FAST_SUBJECTS[2], html=FAST_HTMLS[2])
    message = _assert_same(compiled, {"first_name": "<i>Bo</i>", "city": "", "last_name": None, "secret_code": 0},
                           5, "uid")
    assert message.subject == 'Hi <i>Bo</i> & “ok”'
    assert "<p>Hi &lt;i&gt;Bo&lt;/i&gt;, &lt;somewhere&gt; &amp; &#39;co&#39;. 0</p>" in message.html
    assert "Hi <i>Bo</i>, <somewhere> & 'co'. 0" in message.text


def test_fast_path_keeps_the_size_limit(account, fields):
    compiled = _both_ways(account, fields, html="<p>{{ contact.city }}{{ contact.city }}</p>")
    for each in compiled:
        with pytest.raises(render.RenderError, match="too large"):
            each.render({"city": "x" * (render.MAX_OUTPUT_CHARS // 2 + 1)})


def test_templates_with_logic_or_other_filters_go_through_jinja(account, fields):
    campaign = make_campaign(account, subject="Hi {{ contact.first_name | upper }}",
                             html="{% if contact.city %}<p>In {{ contact.city }}</p>{% endif %}<p>Hi</p>")
    compiled = render.compile_campaign(campaign, fields)
    assert compiled.fast_parts == set()
    message = compiled.render({"first_name": "ann", "city": "Gent"}, 3, "uid")
    assert message.subject == "Hi ANN" and "<p>In Gent</p><p>Hi</p>" in message.html and "In Gent" in message.text
    assert "In " not in compiled.render({"first_name": "ann"}).html
    text_only = render.compile_campaign(make_campaign(account, html="<p>{{ contact.first_name ~ '!' }}</p>"), fields)
    assert text_only.fast_parts == {"subject"}


@pytest.mark.parametrize("source", [
    "{{ contact._values }}", "{{ contact['_values'] }}", "{{ contact.first_name.__class__ }}", "{{ config }}",
    "{{ campaign.__class__ }}", "{{ campaign.id }}", "{{ _stx_links }}", "{{ _stx_links[1].__class__ }}",
    "{{ contact.first_name | default(contact.city) }}", "{{ contact.city | default('a', boolean=true) }}",
    "{{ contact.city | safe }}", "{{ unsubscribe_url[0] }}", "{% set x = 1 %}{{ x }}", "{{ contact }}",
])
def test_fast_path_reads_only_the_campaign_names(source):
    # Even for a template that skipped the checks, anything else is left to the sandbox.
    assert render._FastTemplate.of(render.HTML_ENV.parse(source), True) is None


def test_a_signed_unsubscribe_url_is_reused(account, fields):
    compiled = render.compile_campaign(make_campaign(account), fields)
    signed = compiled.unsubscribe_url("uid7")
    assert compiled.render({}, 7, "uid7", signed) == compiled.render({}, 7, "uid7")
    assert 'href="https://elsewhere.example/u/1"' in compiled.render({}, 7, "uid7", "https://elsewhere.example/u/1").html
