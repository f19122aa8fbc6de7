"""Campaign templates: a sandboxed Jinja dialect, its checks, and fast per-recipient rendering with tracking.

Marketers write the subject, preheader, HTML, plain text and layouts in a small subset of Jinja: output
(`{{ contact.first_name | default("there") }}`), if/elif/else, set, with, comments, raw, a list of filters and
tests, and only the variables contact, campaign, unsubscribe_url, preferences_url and view_in_browser_url.
Loops, calls, macros, includes, set blocks and autoescape switches are refused: campaigns have nothing to loop
over, and without them a template can neither reach Python internals nor run for long. What remains runs in
Jinja's immutable sandbox with size limits on every string operation.

`check()` finds every problem (syntax, unknown fields, refused constructs) with its line when a campaign is
saved or previewed. `compile_campaign()` does the expensive work once per send: it splices the layout,
finds the links, decides on tracking, generates the text part and compiles three templates; after that
`CompiledCampaign.render()` only renders (and signs a few tokens) per recipient. A template of text and simple
merge tags only (most campaigns) is rendered without Jinja, by `_FastTemplate`, with the same output.
"""
import functools
import html as html_module
import re
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from jinja2 import Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS

from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape, soft_str

from sendtex.db import db
from sendtex.mail.links import PREFERENCES, UNSUBSCRIBE, VIEW, link_urls, scan_html, scan_text
from sendtex.mail.text import html_to_text, tidy

PUBLIC_NAMES = ("contact", "campaign", "unsubscribe_url", "preferences_url", "view_in_browser_url")
CAMPAIGN_ATTRIBUTES = ("name", "subject")
PARTS = ("subject", "preheader", "html", "text", "layout")
MAX_SOURCE_CHARS = 500_000
MAX_VALUE_CHARS = 100_000  # any string a template computes
MAX_OUTPUT_CHARS = 2_000_000  # a rendered part (relays refuse far smaller messages anyway)
MAX_INTEGER_BITS = 4096

# Names only compiled templates use; a marketer's template cannot name them (unknown, or starting with "_").
LINKS, PIXEL = "_stx_links", "_stx_pixel"
PREHEADER_OPEN = ('<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;'
                  'overflow:hidden;mso-hide:all">')


class Problem(NamedTuple):
    """A template problem: the part (subject, preheader, html, text, layout), its line and a message."""

    part: str
    line: int
    message: str


class TemplateProblems(ValueError):
    """A campaign's templates do not compile; `problems` lists why."""

    def __init__(self, problems):
        super().__init__("; ".join(f"{p.part} line {p.line}: {p.message}" for p in problems))
        self.problems = problems


class RenderError(RuntimeError):
    """A template failed for one recipient (e.g. a number filter on text); `part` says which."""

    def __init__(self, part, message):
        super().__init__(f"{part}: {message}")
        self.part = part


# The sandbox


def _refuse(message):
    raise SecurityError(message)


def _check_size(value):
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_VALUE_CHARS:
        _refuse("the text is too long")
    return value


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with growth limits on the operators that can build huge values."""

    intercepted_binops = frozenset(["+", "*", "**", "%"])

    def getattr(self, obj, attribute):
        # `contact.<field>` is most of a campaign's attribute look-ups (7 a message in bench/bench_send.py),
        # and the sandbox's general path (getattr, __getattr__, is_safe_attribute, modifies_known_mutable)
        # made rendering that message 58 µs instead of 43 µs. For a ContactValues and a name without "_"
        # its answer is always the field's value, or undefined when the contact has no such field
        # (ContactValues has no public attributes, field values are plain data): return that directly.
        if type(obj) is ContactValues and type(attribute) is str and attribute[:1] != "_":
            try:
                return obj._values[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator, left, right):
        if operator == "%" and isinstance(left, str):
            _refuse("formatting with % is not available")
        numbers = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and numbers and right > 0 and max(left.bit_length(), 1) * right > MAX_INTEGER_BITS:
            _refuse("the number is too large")
        if operator == "*":
            if numbers and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
                _refuse("the number is too large")
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) and len(sequence) * count > MAX_VALUE_CHARS:
                    _refuse("the text is too long")
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if len(left) + len(right) > MAX_VALUE_CHARS:
                _refuse("the text is too long")
        return super().call_binop(context, operator, left, right)


def _guarded(func):
    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marks
    def guarded(*args, **kwargs):
        return _check_size(func(*args, **kwargs))

    return guarded


def _default(value, default_value="", boolean=False):
    # An empty field is None or "", not undefined: `default` must apply to it as well.
    if isinstance(value, Undefined) or value is None or value == "" or (boolean and not value):
        return default_value
    return value


@pass_eval_context
def _replace(eval_ctx, value, old, new, count=None):
    text, old_text, new_text = str(value), str(old), str(new)
    found = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * max(0, len(new_text) - len(old_text)) > MAX_VALUE_CHARS:
        _refuse("the text is too long")
    return FILTERS["replace"](eval_ctx, value, old, new, count)


@pass_eval_context
def _concat(eval_ctx, items):
    parts = [soft_str(item) for item in items]
    if sum(map(len, parts)) > MAX_VALUE_CHARS:
        _refuse("the text is too long")
    return _check_size(markup_join(parts) if eval_ctx.autoescape else "".join(map(str, parts)))


SIMPLE_FILTERS = ("abs", "capitalize", "count", "e", "escape", "first", "float", "int", "last", "length", "lower",
                  "round", "string", "striptags", "title", "trim", "truncate", "upper", "urlencode", "wordcount")
ALLOWED_FILTERS = {name: _guarded(FILTERS[name]) for name in SIMPLE_FILTERS}
ALLOWED_FILTERS.update(default=_default, d=_default, replace=_replace)
ALLOWED_TESTS = {name: TESTS[name] for name in (
    "defined", "undefined", "none", "number", "string", "boolean", "true", "false", "integer", "float", "eq",
    "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in",
    "odd", "even", "divisibleby", "lower", "upper", "sameas") if name in TESTS}


def _finalize(value):
    return "" if value is None else value


def _environment(autoescape):
    env = _Environment(autoescape=autoescape, finalize=_finalize, auto_reload=False, cache_size=0,
                       keep_trailing_newline=True)
    env.globals.clear()  # no range, lipsum, cycler, joiner, namespace, dict
    env.filters = dict(ALLOWED_FILTERS, _stx_concat=_concat)
    env.tests = dict(ALLOWED_TESTS)
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)
ENVIRONMENTS = {"subject": TEXT_ENV, "text": TEXT_ENV, "preheader": HTML_ENV, "html": HTML_ENV, "layout": HTML_ENV}


class _GuardConcat(NodeTransformer):
    """Turns `a ~ b` into a size-checked filter: Jinja's own concatenation cannot be intercepted."""

    def visit_Concat(self, node):
        node = self.generic_visit(node)
        items = nodes.List(list(node.nodes), lineno=node.lineno)
        return nodes.Filter(items, "_stx_concat", [], [], None, None, lineno=node.lineno)


# Checking

REFUSED = {
    "For": _l("loops"),
    "Macro": _l("macros"),
    "CallBlock": _l("call blocks"),
    "Call": _l("calling functions or methods"),
    "Include": _l("including templates"),
    "Import": _l("importing templates"),
    "FromImport": _l("importing templates"),
    "Extends": _l("extending templates"),
    "Block": _l("blocks"),
    "FilterBlock": _l("filter blocks"),
    "AssignBlock": _l("set blocks"),
    "EvalContextModifier": _l("switching autoescaping"),
    "ScopedEvalContextModifier": _l("switching autoescaping"),
    "Scope": _l("switching autoescaping"),
    "Dict": _l("dictionaries"),
    "NSRef": _l("namespaces"),
    "ExprStmt": _l("do statements"),
}
OWNERS = ("contact", "campaign")


def _is_int_const(node):
    return isinstance(node, nodes.Const) and type(node.value) is int


class _Checker:
    """Walks a parsed template and lists everything outside the campaign dialect."""

    def __init__(self, part, field_keys, names, slot=False):
        self.part, self.field_keys, self.names, self.slot = part, field_keys, set(names), slot
        self.problems, self.used, self.slots = [], set(), 0

    def run(self, template):
        self.assigned = {node.name for node in template.find_all(nodes.Name) if node.ctx != "load"}
        self.visit(template)

    def problem(self, node, message):
        self.problems.append(Problem(self.part, node.lineno or 1, message))

    def visit(self, node):
        handler = getattr(self, "visit_" + type(node).__name__, None)
        if handler is None:
            what = REFUSED.get(type(node).__name__, type(node).__name__)
            self.problem(node, _l("Not available in campaign templates: %(what)s.", what=what))
        else:
            handler(node)

    def visit_all(self, items):
        for item in items:
            if item is not None:
                self.visit(item)

    def visit_Template(self, node):
        self.visit_all(node.body)

    def visit_Output(self, node):
        for child in node.nodes:
            if self.slot and isinstance(child, nodes.Name) and child.name == "content":
                self.slots += 1
            else:
                self.visit(child)

    def visit_TemplateData(self, node):
        pass

    def visit_Const(self, node):
        pass

    def visit_If(self, node):
        self.visit(node.test)
        self.visit_all(node.body + node.elif_ + node.else_)

    def visit_Assign(self, node):
        self.target(node.target)
        self.visit(node.node)

    def visit_With(self, node):
        for target in node.targets:
            self.target(target)
        self.visit_all(node.values + node.body)

    def target(self, node):
        if isinstance(node, nodes.Tuple):
            for item in node.items:
                self.target(item)
        elif not isinstance(node, nodes.Name):
            self.problem(node, _l("Only a plain name can be set, like {%% set greeting = \"Hi\" %%}."))
        elif node.name.startswith("_") or node.name in PUBLIC_NAMES or node.name == "content":
            self.problem(node, _l("“%(name)s” is a reserved name; choose another one.", name=node.name))

    def visit_Name(self, node):
        if node.name in OWNERS:
            self.problem(node, _l("Write %(name)s.<field>, not %(name)s alone.", name=node.name))
        elif node.name in self.names or node.name in self.assigned:
            self.used.add(node.name)
        else:
            self.problem(node, _l("Unknown variable “%(name)s”.", name=node.name))

    def visit_Getattr(self, node):
        self.member(node, node.node, node.attr)

    def visit_Getitem(self, node):
        arg = node.arg
        owner = isinstance(node.node, nodes.Name) and node.node.name in OWNERS
        if owner and isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            self.member(node, node.node, arg.value)
        elif _is_int_const(arg) or (isinstance(arg, nodes.Slice) and all(
                part is None or _is_int_const(part) for part in (arg.start, arg.stop, arg.step))):
            self.visit(node.node)
        else:
            self.problem(node, _l("Only contact.<field>, campaign.name and campaign.subject can be looked up."))

    def member(self, node, owner, attribute):
        name = owner.name if isinstance(owner, nodes.Name) else None
        if name == "contact":
            self.used.add(name)
            if attribute not in self.field_keys:
                self.problem(node, _l("Unknown field “%(key)s”: this account has no contact field with that key.",
                                      key=attribute))
        elif name == "campaign":
            self.used.add(name)
            if attribute not in CAMPAIGN_ATTRIBUTES:
                self.problem(node, _l("Unknown campaign.%(name)s: use campaign.name or campaign.subject.",
                                      name=attribute))
        else:
            self.problem(node, _l("Only contact.<field>, campaign.name and campaign.subject can be looked up."))

    def arguments(self, node):
        self.visit_all([node.node, *node.args] + [keyword.value for keyword in node.kwargs])
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self.problem(node, _l("Not available in campaign templates: %(what)s.", what="*args, **kwargs"))

    def visit_Filter(self, node):
        if node.node is None:
            self.problem(node, _l("Not available in campaign templates: %(what)s.", what=REFUSED["FilterBlock"]))
        elif node.name not in ALLOWED_FILTERS:
            self.problem(node, _l("Unknown filter “%(name)s”.", name=node.name))
        self.arguments(node)

    def visit_Test(self, node):
        if node.name not in ALLOWED_TESTS:
            self.problem(node, _l("Unknown test “%(name)s”.", name=node.name))
        self.arguments(node)

    def visit_CondExpr(self, node):
        self.visit_all([node.test, node.expr1, node.expr2])

    def visit_Compare(self, node):
        self.visit_all([node.expr] + [operand.expr for operand in node.ops])

    def visit_List(self, node):
        self.visit_all(node.items)

    visit_Tuple = visit_List

    def visit_Concat(self, node):
        self.visit_all(node.nodes)

    def _binary(self, node):
        self.visit_all([node.left, node.right])

    visit_Add = visit_Sub = visit_Mul = visit_Div = visit_FloorDiv = visit_Mod = visit_Pow = _binary
    visit_And = visit_Or = _binary

    def _unary(self, node):
        self.visit(node.node)

    visit_Not = visit_Neg = visit_Pos = _unary


def _field_keys(fields):
    by_key = getattr(fields, "by_key", None)
    return frozenset(by_key if by_key is not None else fields)


def _parse(source, part, field_keys, names=PUBLIC_NAMES):
    """(the checked template tree or None, the names it uses, its problems)."""
    source = source or ""
    if len(source) > MAX_SOURCE_CHARS:
        return None, set(), [Problem(part, 1, _l("This is longer than %(n)d characters.", n=MAX_SOURCE_CHARS))]
    try:
        tree = ENVIRONMENTS[part].parse(source)
        checker = _Checker(part, field_keys, names, slot=part == "layout")
        checker.run(tree)
    except TemplateSyntaxError as exc:
        return None, set(), [Problem(part, exc.lineno or 1, _l("Syntax error: %(message)s", message=exc.message))]
    except RecursionError:
        return None, set(), [Problem(part, 1, _l("The template is nested too deeply."))]
    if part == "layout" and not checker.slots:
        checker.problems.append(Problem(part, 1, _l("The layout needs a {{ content }} slot for the campaign's content.")))
    return tree, checker.used, checker.problems


def _compile(part, tree):
    env = ENVIRONMENTS[part]
    try:
        return env.from_string(_GuardConcat().visit(tree))
    except TemplateSyntaxError as exc:
        raise TemplateProblems([Problem(part, exc.lineno or 1, _l("Syntax error: %(message)s", message=exc.message))])
    except RecursionError:
        raise TemplateProblems([Problem(part, 1, _l("The template is nested too deeply."))])


def check(source, fields, part="html"):
    """The problems of one part of a campaign (or a layout), each with its line; [] if it is fine."""
    tree, _, problems = _parse(source, part, _field_keys(fields))
    if tree is not None and not problems:
        try:
            _compile(part, tree)
        except TemplateProblems as exc:
            problems = exc.problems
    return problems


def layout_html(campaign):
    """The HTML of the campaign's layout, or None without one."""
    from sendtex.models.campaigns import Layout

    if not campaign.layout_id:
        return None
    layout = Layout.for_account(campaign.account_id).where(Layout.id == campaign.layout_id).first()
    return layout.html if layout else None


def check_campaign(campaign, fields, layout=None):
    """Every problem of a campaign's subject, preheader, HTML, hand-written text and layout HTML (if given)."""
    problems = []
    parts = [("subject", campaign.subject), ("preheader", campaign.preheader), ("html", campaign.html)]
    if campaign.text_by_hand:
        parts.append(("text", campaign.text))
    if layout is not None:
        parts.append(("layout", layout))
    for part, source in parts:
        problems += check(source, fields, part)
    return problems


# Source transformations. Jinja constructs are swapped for placeholders (Unicode noncharacters) while the
# HTML around them is scanned, and swapped back afterwards.

_CONSTRUCT = "\ufdd0%d\ufdd1"
_INSERT = "\ufdd2%d\ufdd3"
_PLACEHOLDERS = re.compile("\ufdd0(\\d+)\ufdd1|\ufdd2(\\d+)\ufdd3")
_NONCHARACTERS = re.compile("[\ufdd0-\ufdd3]")
_CLOSERS = ("variable_end", "block_end", "comment_end", "raw_end")
_SLOT = re.compile(r"\{\{[-+]?\s*content\s*[-+]?\}\}\s*\Z")


def _skeleton(source, part):
    """The source with every Jinja construct replaced by a placeholder, and the constructs' texts."""
    out, constructs, current, raw = [], [], None, False
    for _, kind, value in ENVIRONMENTS[part].lex(source):
        if kind == "data" and not raw:
            out.append(_NONCHARACTERS.sub("", value))
            continue
        current = (current or []) + [value]
        raw = kind == "raw_begin" or (raw and kind != "raw_end")
        if kind in _CLOSERS and not raw:
            out.append(_CONSTRUCT % len(constructs))
            constructs.append("".join(current))
            current = None
    return "".join(out), constructs


def _plain(construct):
    # The text part is re-flowed by the generator: whitespace control would glue its lines together.
    construct = re.sub(r"\A(\{[{%#])[-+]", r"\1 ", construct)
    return re.sub(r"[-+]([}%#]\})\s*\Z", r" \1", construct)


def _restore(text, constructs, inserts=(), plain=False):
    def put(match):
        if match.group(1) is not None:
            construct = constructs[int(match.group(1))]
            return _plain(construct) if plain else construct
        return inserts[int(match.group(2))]

    return _PLACEHOLDERS.sub(put, text)


def _apply(text, edits):
    """text with (start, end, replacement) edits applied."""
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def splice_layout(layout, content):
    """The layout's source with the campaign's content source in its {{ content }} slot(s)."""
    skeleton, constructs = _skeleton(layout, "layout")

    def put(match):
        if match.group(1) is None:
            return match.group(0)
        construct = constructs[int(match.group(1))]
        return content if _SLOT.match(construct) else construct

    return _PLACEHOLDERS.sub(put, skeleton)


def _escape_data(source, part):
    """A text template's source as HTML: its text escaped, its Jinja constructs kept."""
    skeleton, constructs = _skeleton(source, part)
    return _restore(html_module.escape(skeleton, quote=False), constructs)


def _has_placeholder(url):
    return bool(_NONCHARACTERS.search(url))


# Compiling and rendering


class RenderedMessage(NamedTuple):
    """One recipient's subject, HTML part and text part."""

    subject: str
    html: str
    text: str


class ContactValues:
    """A contact's field values by key, as templates see them: contact.first_name or contact["first_name"]."""

    __slots__ = ("_values",)

    def __init__(self, values):
        self._values = values

    def __getattr__(self, key):
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key):
        return self._values[key]


class CampaignInfo:
    """What templates see of the campaign: its name and this recipient's subject."""

    __slots__ = ("name", "subject")

    def __init__(self, name, subject):
        self.name, self.subject = name, subject


class _TrackedLinks:
    """One delivery's click URLs by link position, each signed once for both parts of the message."""

    __slots__ = ("_click", "_delivery_id", "_made")

    def __init__(self, urls, delivery_id):
        self._click, self._delivery_id, self._made = urls.click, delivery_id, {}

    def __getitem__(self, position):
        url = self._made.get(position)
        if url is None:
            url = self._made[position] = self._click(self._delivery_id, position)
        return url


# The fast path. Most campaigns are text with merge tags and nothing else, and for those Jinja's context
# set-up and generated code were half of render()'s time (20 of 41 µs for bench/bench_send.py's message;
# 10 µs this way). Such a template is compiled a second time into its text and small look-up functions
# and rendered by filling those in. Each look-up reads only the names a campaign template may use, the way
# the sandbox does, and each piece is output as Jinja's generated code outputs it: escape() (HTML) or str()
# (subject, text) around _finalize().

_MISSING = Undefined()  # what the sandbox gives for a field or name that is not there: it renders as ""
URL_NAMES = ("unsubscribe_url", "preferences_url", "view_in_browser_url")
DEFAULT_FILTERS = ("default", "d")


def _name_lookup(name):
    return lambda context: context.get(name, _MISSING)


def _field_lookup(key):
    return lambda context: context["contact"]._values.get(key, _MISSING)


def _campaign_lookup(attribute):
    return lambda context: getattr(context["campaign"], attribute)


def _link_lookup(position):
    def link(context):
        try:
            return context[LINKS][position]
        except (TypeError, LookupError):
            return _MISSING

    return link


def _default_lookup(lookup, args):
    return lambda context: _default(lookup(context), *args)


def _lookup(node):
    """A function of the render context giving the expression's value, or None for anything but a simple one."""
    if isinstance(node, nodes.Name):
        return _name_lookup(node.name) if node.ctx == "load" and node.name in (*URL_NAMES, PIXEL) else None
    if isinstance(node, nodes.Filter):
        simple = (node.name in DEFAULT_FILTERS and node.node is not None and not node.kwargs
                  and node.dyn_args is None and node.dyn_kwargs is None and len(node.args) <= 2
                  and all(isinstance(arg, nodes.Const) for arg in node.args))
        lookup = _lookup(node.node) if simple else None
        return _default_lookup(lookup, tuple(arg.value for arg in node.args)) if lookup else None
    if isinstance(node, nodes.Getattr):
        key = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
    else:
        return None
    owner = node.node.name if isinstance(node.node, nodes.Name) else None
    if owner == "contact" and type(key) is str and key[:1] != "_":
        return _field_lookup(key)
    if owner == "campaign" and type(key) is str and key in CAMPAIGN_ATTRIBUTES:
        return _campaign_lookup(key)
    if owner == LINKS and isinstance(node, nodes.Getitem) and type(key) is int:
        return _link_lookup(key)
    return None


def _output(lookup, convert):
    return lambda context: convert(_finalize(lookup(context)))


class _FastTemplate:
    """A template of text and simple merge tags only, rendered without Jinja; `generate` as a Jinja template's."""

    __slots__ = ("_pieces", "_slots")

    def __init__(self, pieces, slots):
        self._pieces, self._slots = pieces, slots

    @classmethod
    def of(cls, tree, autoescape):
        """The fast form of a parsed template, or None when it has anything but text and simple merge tags."""
        pieces, slots, text = [], [], []
        convert = escape if autoescape else str
        for output in tree.body:
            if not isinstance(output, nodes.Output):
                return None
            for child in output.nodes:
                if isinstance(child, nodes.TemplateData):
                    text.append(child.data)
                elif isinstance(child, nodes.Const) and type(child.value) is str:
                    text.append(str(convert(child.value)))  # what Jinja computes for it at compile time
                else:
                    lookup = _lookup(child)
                    if lookup is None:
                        return None
                    if text:
                        pieces.append("".join(text))
                        text = []
                    slots.append((len(pieces), _output(lookup, convert)))
                    pieces.append("")
        if text:
            pieces.append("".join(text))
        return cls(pieces, tuple(slots))

    def generate(self, context):
        """The rendered pieces."""
        pieces = self._pieces[:]
        for index, output in self._slots:
            pieces[index] = output(context)
        return pieces


def _render(template, context, part):
    try:
        pieces = list(template.generate(context))
    except Exception as exc:  # any runtime failure of the marketer's template is that recipient's error
        raise RenderError(part, str(exc) or type(exc).__name__) from exc
    if sum(map(len, pieces)) > MAX_OUTPUT_CHARS:
        raise RenderError(part, "the message is too large")
    return "".join(pieces)


class CompiledCampaign:
    """A campaign's templates compiled once, with its links found; render() per recipient."""

    def __init__(self, campaign, fields, layout=None, track_opens=False, track_clicks=False, urls=None, fast=True):
        keys = _field_keys(fields)
        self.fast = fast  # False: every template through Jinja (the fast path's tests compare the two)
        problems = check_campaign(campaign, keys, layout)
        if problems:
            raise TemplateProblems(problems)
        self.campaign_id = campaign.id or 0
        self.name = campaign.name
        self.track_opens, self.track_clicks = track_opens, track_clicks
        self._urls = urls or link_urls()
        self.link_urls = []  # the tracked links' URLs; position n is link_urls[n - 1]
        self.used = set()

        self._subject = self._template("subject", campaign.subject, keys)
        source = splice_layout(layout, campaign.html) if layout is not None else (campaign.html or "")
        html_source, text_html_source, generated_text = self._transform_html(source, campaign.preheader or "")
        self._html = self._template("html", html_source, keys, internal=True)
        self._text_html = None
        # Generated text is tidy already unless its conditions leave blank lines; hand-written text stays as written.
        self._tidy_text = not campaign.text_by_hand and "{%" in (generated_text or "")
        if campaign.text_by_hand:
            self._text = self._template("text", self._transform_text(campaign.text or ""), keys, internal=True)
        else:
            self._text = self._generated_text_template(generated_text, keys)
            if self._text is None:  # the generator could not keep the template's logic intact
                self._text_html = self._template("html", text_html_source, keys, internal=True)

    def _template(self, part, source, keys, internal=False):
        names = PUBLIC_NAMES + ((LINKS, PIXEL) if internal else ())
        tree, used, problems = _parse(source, part, keys, names)
        if problems:
            raise TemplateProblems(problems)
        self.used |= used
        template = _compile(part, tree)
        return (_FastTemplate.of(tree, ENVIRONMENTS[part].autoescape) if self.fast else None) or template

    def _link(self, url, inserts):
        self.link_urls.append(url)
        inserts.append("{{ %s[%d] }}" % (LINKS, len(self.link_urls)))
        return _INSERT % (len(inserts) - 1)

    def _transform_html(self, source, preheader):
        skeleton, constructs = _skeleton(source, "html")
        scan = scan_html(skeleton, skip=_has_placeholder)
        inserts, link_edits, originals = [], [], {}
        if self.track_clicks:
            for found in scan.links:
                placeholder = self._link(found.url, inserts)
                originals[placeholder] = found.url
                link_edits.append((found.start, found.end, placeholder))
        edits = list(link_edits)
        if preheader.strip():
            inserts.append(PREHEADER_OPEN + _escape_data(preheader, "preheader") + "</div>")
            edits.append((scan.body_start, scan.body_start, _INSERT % (len(inserts) - 1)))
        if self.track_opens:
            inserts.append("{{ %s }}" % PIXEL)
            edits.append((scan.body_end, scan.body_end, _INSERT % (len(inserts) - 1)))
        html_source = _restore(_apply(skeleton, edits), constructs, inserts)
        text_html_source = _restore(_apply(skeleton, link_edits), constructs, inserts)

        text = html_to_text(_apply(skeleton, link_edits), original_url=lambda href: originals.get(href, href))
        # Character references in the HTML may spell Jinja syntax in the text: braces become literals.
        text = text.replace("{", '{{ "{" }}')
        blocks = {index for index, construct in enumerate(constructs) if construct.startswith("{%")}
        kept = {int(match) for match in re.findall("\ufdd0(\\d+)\ufdd1", text)}
        generated = _restore(text, constructs, inserts, plain=True) if blocks <= kept else None
        return html_source, text_html_source, generated

    def _generated_text_template(self, source, keys):
        if source is None:
            return None
        try:
            return self._template("text", source, keys, internal=True)
        except TemplateProblems:
            return None

    def _transform_text(self, source):
        skeleton, constructs = _skeleton(source, "text")
        inserts, edits = [], []
        if self.track_clicks:
            for found in scan_text(skeleton, skip=_has_placeholder):
                if found.url in self.link_urls:
                    inserts.append("{{ %s[%d] }}" % (LINKS, self.link_urls.index(found.url) + 1))
                    placeholder = _INSERT % (len(inserts) - 1)
                else:
                    placeholder = self._link(found.url, inserts)
                edits.append((found.start, found.end, placeholder))
        return _restore(_apply(skeleton, edits), constructs, inserts)

    def store_links(self):
        """Save the tracked links as the campaign's Link rows (idempotent: several workers may compile it)."""
        from sendtex.models.campaigns import Link

        rows = [dict(campaign=self.campaign_id, url=url, position=position)
                for position, url in enumerate(self.link_urls, 1)]
        with db.atomic():
            for start in range(0, len(rows), 200):
                (Link.insert_many(rows[start:start + 200])
                 .on_conflict(conflict_target=[Link.campaign, Link.position], preserve=[Link.url]).execute())

    def unsubscribe_url(self, contact_uid):
        """The contact's unsubscribe URL for this campaign (the List-Unsubscribe header's and the body's)."""
        return self._urls.url(UNSUBSCRIBE, self.campaign_id, contact_uid or "")

    @property
    def fast_parts(self):
        """The parts (subject, html, text) rendered without Jinja, by _FastTemplate."""
        templates = (("subject", self._subject), ("html", self._html), ("text", self._text_html or self._text))
        return {part for part, template in templates if isinstance(template, _FastTemplate)}

    def render(self, values, delivery_id=None, contact_uid=None, unsubscribe_url=None):
        """This recipient's subject, HTML and text; links and the open image are tracked when delivery_id is given.

        unsubscribe_url: the contact's, when the caller signed it already (for the List-Unsubscribe header)."""
        urls, uid = self._urls, contact_uid or ""
        context = {"contact": ContactValues(values), "campaign": CampaignInfo(self.name, ""),
                   "unsubscribe_url": unsubscribe_url or self.unsubscribe_url(uid)}
        if "preferences_url" in self.used:
            context["preferences_url"] = urls.url(PREFERENCES, self.campaign_id, uid)
        if "view_in_browser_url" in self.used:
            context["view_in_browser_url"] = urls.url(VIEW, self.campaign_id, uid)
        subject = " ".join(_render(self._subject, context, "subject").split())
        context["campaign"] = CampaignInfo(self.name, subject)
        tracked = delivery_id is not None
        context[LINKS] = _TrackedLinks(urls, delivery_id) if tracked else [None, *self.link_urls]
        context[PIXEL] = ""
        if tracked and self.track_opens:
            # Safe by construction: Markup's % escapes the URL (BASE_URL + a base64url token); half format()'s time.
            context[PIXEL] = Markup('<img src="%s" width="1" height="1" alt="">') % urls.open(delivery_id)
        html = _render(self._html, context, "html")
        if self._text_html is not None:
            text = html_to_text(_render(self._text_html, context, "text"))
        else:
            text = _render(self._text, context, "text")
            text = tidy(text) if self._tidy_text else text.strip()
        return RenderedMessage(subject, html, text)


def compile_campaign(campaign, fields, for_sending=True):
    """Check and compile a campaign once; for sending, tracking follows its switches and Link rows are saved."""
    layout = layout_html(campaign)
    track_opens = track_clicks = False
    if for_sending:
        account = campaign.account
        track_opens = campaign.track_opens and account.track_opens
        track_clicks = campaign.track_clicks and account.track_clicks
    compiled = CompiledCampaign(campaign, fields, layout, track_opens=track_opens, track_clicks=track_clicks)
    if for_sending and compiled.link_urls and campaign.id:
        compiled.store_links()
    return compiled
