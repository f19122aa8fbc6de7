"""The plain-text part generated from a message's HTML: paragraphs, headings, lists, quotes and "text (url)" links."""
import re
from html.parser import HTMLParser

SKIPPED = {"head", "title", "style", "script", "template", "noscript", "svg", "object", "iframe", "select"}
PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "dl", "hr", "center", "form",
              "figure", "address", "fieldset"}
LINES = {"div", "section", "article", "header", "footer", "main", "aside", "nav", "tr", "td", "th", "dt", "dd",
         "li", "ul", "ol", "caption", "tbody", "thead", "tfoot", "figcaption", "summary", "details"}
VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")


def tidy(text):
    """Trailing spaces removed, at most one blank line in a row, no blank lines around the text."""
    # Run per message: the substring tests skip the (slower) expressions when there is nothing to fix.
    if " \n" in text or "\t\n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n ")


def _same_address(text, url):
    def bare(value):
        value = value.strip().lower()
        for prefix in ("https://", "http://", "mailto:"):
            if value.startswith(prefix):
                value = value[len(prefix):]
        return value.rstrip("/")

    return bare(text) == bare(url)


class _TextWriter(HTMLParser):
    def __init__(self, original_url):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.pending = 0  # line breaks owed before the next text
        self.space = False  # a space owed before the next text on this line
        self.at_line_start = True
        self.prefixes = []  # indents of list items and "> " of quotes, outermost first
        self.lists = []  # per open list: None for <ul>, the next number for <ol>
        self.skipping = []
        self.links = []  # open <a>: (href, index in out)
        self.pre = 0
        self.original_url = original_url

    # output

    def _prefix(self):
        return "".join(self.prefixes)

    def _break(self, count):
        if self.out:
            self.pending = max(self.pending, count)
        self.space = False

    def _write(self, text):
        if self.pending:
            prefix = self._prefix()
            self.out.append("\n" * self.pending + prefix)
            self.pending, self.at_line_start = 0, True
        elif not self.out and self.prefixes:
            self.out.append(self._prefix())
            self.at_line_start = True
        if self.space and not self.at_line_start:
            self.out.append(" ")
        self.space = False
        self.out.append(text)
        self.at_line_start = False

    # parser callbacks

    def handle_starttag(self, tag, attrs):
        if self.skipping:
            if tag not in VOID:
                self.skipping.append(tag)
            return
        if tag in SKIPPED:
            self.skipping.append(tag)
            return
        attributes = dict(attrs)
        if tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append({"number": None if tag == "ul" else 1, "open": False})
        elif tag == "li":
            if not self.lists:
                self.lists.append({"number": None, "open": False, "implied": True})
            self._close_item()
            self._break(1)
            current = self.lists[-1]
            marker = "- "
            if current["number"] is not None:
                marker = f"{current['number']}. "
                current["number"] += 1
            self._write(marker)
            self.at_line_start = True
            self.prefixes.append(" " * len(marker))
            current["open"] = True
        elif tag == "blockquote":
            self._break(2)
            self.prefixes.append("> ")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._break(2)
            self._write("#" * int(tag[1]) + " ")
            self.at_line_start = True
        elif tag == "br":
            self._write("")
            self.out.append("\n" + self._prefix())
            self.at_line_start = True
        elif tag == "hr":
            self._break(2)
            self._write("---")
            self._break(2)
        elif tag == "pre":
            self._break(2)
            self.pre += 1
        elif tag in PARAGRAPHS:
            self._break(2)
        elif tag in LINES:
            self._break(1)
        elif tag == "a":
            self.links.append((attributes.get("href") or "", len(self.out)))
        elif tag == "img" and self.links and attributes.get("alt"):
            self._write(_SPACES.sub(" ", attributes["alt"]).strip())

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self.skipping:
            if tag in self.skipping:
                while self.skipping.pop() != tag:
                    pass
            return
        if tag in ("ul", "ol"):
            self._close_item()
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "li":
            self._close_item()
            if self.lists and self.lists[-1].get("implied"):
                self.lists.pop()
            self._break(1)
        elif tag == "blockquote":
            if "> " in self.prefixes:
                del self.prefixes[len(self.prefixes) - 1 - self.prefixes[::-1].index("> ")]
            self._break(2)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._break(2)
        elif tag in PARAGRAPHS or tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._break(2)
        elif tag in LINES:
            self._break(1)
        elif tag == "a" and self.links:
            self._close_link(*self.links.pop())

    def _close_link(self, href, start):
        href = href.strip()
        if not href or href.startswith("#"):
            return
        label = "".join(self.out[start:]).strip()
        shown = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
        if not label:
            self._write(shown)
        elif _same_address(label, self.original_url(href)):
            # The address written out as the link's text: show the (possibly tracked) href in its place.
            while start < len(self.out) and not self.out[start].strip():
                start += 1
            self.out[start:] = [shown]
        else:
            self.space = True
            self._write(f"({shown})")

    def _close_item(self):
        if self.lists and self.lists[-1]["open"]:
            self.lists[-1]["open"] = False
            if self.prefixes and self.prefixes[-1].isspace():
                self.prefixes.pop()

    def handle_data(self, data):
        if self.skipping:
            return
        if self.pre:
            prefix = self._prefix()
            self._write(data.replace("\r\n", "\n").replace("\n", "\n" + prefix))
            return
        if data[:1].isspace():
            self.space = True
        words = _SPACES.sub(" ", data).strip()
        if words:
            self._write(words)
            self.space = data[-1:].isspace()

    def text(self):
        return tidy("".join(self.out))


def html_to_text(html, original_url=lambda url: url):
    """Plain text for an HTML message; original_url(href) gives the address a (rewritten) link stands for."""
    writer = _TextWriter(original_url)
    writer.feed(html)
    writer.close()
    return writer.text()
