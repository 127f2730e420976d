"""Masking a person's data in the text and JSON that copied it: what a customer's erasure (GDPR art. 17)
does to the rows that are kept. Pure: no Django, no database.

What the customer wrote (the subject and description of their tickets, their messages) is replaced
whole by the services; this module finds the copies of it elsewhere — an agent's reply that greets them
by name or quotes a sentence, a drafted escalation summary, a notification's payload, an audit event's
before/after — and masks them. The needles:

- their e-mail address (any case) → the tombstone address (`erased-<id>@erased.invalid`; `.invalid` is
  reserved by RFC 2606, so nothing is ever sent there);
- their full name (any case) → "Erased customer"; each word of it of 3+ letters, as a capitalised word
  ("Hi Pat,") → "[erased]" — case-sensitive, so the name "May" does not mask "you may";
- their phone number as written → "[erased]";
- each text they wrote, whole, and each of its sentences or lines of 16+ characters (a drafted "problem")
  → "[erased on request]". Shorter sentences ("Thanks!") are too common to tell apart;
- then any run of 5+ consecutive words that also runs, in that order, through a text of theirs (a partial
  quote: "sorry to hear that my invoice was charged twice") → "[erased on request]".

Longer needles win where they overlap, and every needle matches at word boundaries. Over-masking is the
price: in their tickets, a stock phrase of five words they happened to use is masked in staff text too.
What it can't find: a paraphrase ("the customer's husband was ill"). That is why the customer's own text
is replaced whole rather than masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ERASED_DOMAIN = "erased.invalid"
TOMBSTONE_NAME = "Erased customer"
TOMBSTONE_TEXT = "[erased on request]"
MASK = "[erased]"
MIN_FRAGMENT = 16
MIN_NAME_PART = 3
QUOTE_WORDS = 5
_WORD = re.compile(r"\w+")
_FRAGMENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")


def tombstone_email(customer_id: int) -> str:
    return f"erased-{customer_id}@{ERASED_DOMAIN}"


def is_erased_address(address: str) -> bool:
    return address.strip().lower().endswith("@" + ERASED_DOMAIN)


@dataclass(frozen=True)
class Redactor:
    """Masks the needles in a string, or in every string of a JSON value (keys are structure: kept)."""

    pattern: re.Pattern | None
    replacements: tuple[str, ...]
    quotes: frozenset[tuple[str, ...]] = frozenset()

    def text(self, value: str) -> str:
        if self.pattern is None or not value:
            return value
        return self._quotes(self.pattern.sub(lambda match: self.replacements[match.lastindex - 1], value))

    def _quotes(self, value: str) -> str:
        words = list(_WORD.finditer(value))
        quoted = [False] * len(words)
        for i in range(len(words) - QUOTE_WORDS + 1):
            if tuple(w.group(0).casefold() for w in words[i : i + QUOTE_WORDS]) in self.quotes:
                quoted[i : i + QUOTE_WORDS] = [True] * QUOTE_WORDS
        out, end, i = [], 0, 0
        while i < len(words):
            if not quoted[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(words) and quoted[j + 1]:
                j += 1
            out += [value[end : words[i].start()], TOMBSTONE_TEXT]
            end, i = words[j].end(), j + 1
        return "".join([*out, value[end:]])

    def json(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value


def _bounded(needle: str, *, ignore_case: bool) -> str:
    body = re.escape(needle)
    if ignore_case:
        body = f"(?i:{body})"
    # A boundary only where the needle itself starts or ends with a word character: "[erased]" or "Pat?"
    # end in punctuation, which is its own boundary.
    start = r"(?<!\w)" if re.match(r"\w", needle) else ""
    end = r"(?!\w)" if re.search(r"\w$", needle) else ""
    return f"({start}{body}{end})"


def fragments(text: str) -> list[str]:
    """The text itself and its sentences or lines long enough to be its own (see MIN_FRAGMENT)."""
    text = text.strip()
    parts = [part.strip() for part in _FRAGMENT_SPLIT.split(text)]
    return [text, *(part for part in parts if len(part) >= MIN_FRAGMENT and part != text)] if text else []


def redactor(
    *, email: str, email_replacement: str, name: str = "", phone: str = "", texts: Iterable[str] = ()
) -> Redactor:
    # needle -> (replacement, ignore case); a later, identical needle keeps the first one's replacement.
    texts = list(texts)
    needles: dict[str, tuple[str, bool]] = {}
    for text in texts:
        for fragment in fragments(text):
            needles.setdefault(fragment, (TOMBSTONE_TEXT, True))
    if email.strip():
        needles[email.strip()] = (email_replacement, True)
    if name.strip():
        needles[" ".join(name.split())] = (TOMBSTONE_NAME, True)
        for part in name.split():
            if len(part) >= MIN_NAME_PART and part[0].isalpha():
                needles.setdefault(part[0].upper() + part[1:], (MASK, False))
    if len(phone.strip()) >= MIN_NAME_PART:
        needles[phone.strip()] = (MASK, False)
    if not needles:
        return Redactor(pattern=None, replacements=())
    ordered = sorted(needles, key=len, reverse=True)
    pattern = re.compile("|".join(_bounded(n, ignore_case=needles[n][1]) for n in ordered))
    return Redactor(pattern=pattern, replacements=tuple(needles[n][0] for n in ordered), quotes=_shingles(texts))


def _shingles(texts: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """Every run of QUOTE_WORDS consecutive words of the texts, case-folded."""
    runs = set()
    for text in texts:
        words = [w.casefold() for w in _WORD.findall(text)]
        runs.update(tuple(words[i : i + QUOTE_WORDS]) for i in range(len(words) - QUOTE_WORDS + 1))
    return frozenset(runs)
