"""What a browser would post from a page's form, read from the HTML as served: text boxes and hidden inputs
with their values, ticked boxes, textareas, the selected options. Tests post it back unchanged (a round trip)
or with changes, so they test the page the manager sees, not the form object behind it."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id: str | None):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._option: str | None = None
        self._option_text = ""
        self._option_selected = False
        self._first_option: dict[str, str] = {}
        self._picked: set[str] = set()
        self._multiple = False

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = self.form_id is None or a.get("id") == self.form_id
            return
        if not self.inside or (tag in ("input", "textarea", "select") and "name" not in a):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(a["name"], a.get("value", "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._add(a["name"], a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(a["name"], "")
        elif tag == "select":
            self._select = a["name"]
            self._multiple = "multiple" in a
        elif tag == "option" and self._select:
            self._option = a.get("value")
            self._option_text = ""
            self._option_selected = "selected" in a

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data
        elif self._select:
            self._option_text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea:
            value = self.data[self._textarea][-1]
            self.data[self._textarea][-1] = value[1:] if value.startswith("\n") else value  # as browsers do
            self._textarea = None
        elif tag == "option" and self._select:
            value = self._option if self._option is not None else self._option_text.strip()
            self._first_option.setdefault(self._select, value)
            if self._option_selected:
                self._add(self._select, value)
                self._picked.add(self._select)
            self._option = None
        elif tag == "select" and self._select:
            if not self._multiple and self._select not in self._picked and self._select in self._first_option:
                self._add(self._select, self._first_option[self._select])  # a single select sends its first option
            self._select = None


def posted(html: str, form_id: str | None = None, *, multiple: frozenset[str] = frozenset()) -> dict:
    """The form's data as a browser would send it. Fields sent once are plain values; fields sent several times
    (ticked boxes of one name, a multiple select) are lists."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return {name: values if len(values) > 1 or name in multiple else values[0] for name, values in reader.data.items()}
