"""A call transcript -> a draft of the live notes: key sentences, action items with their owner and date
phrases, the sentiment. Pure (no Django, no clock: `today` is an argument) and offline: nothing is downloaded.

The key sentences come from TextRank (Mihalcea & Tarau, 2004) over TF-IDF cosine similarity, written here in
plain Python rather than pulled in with scikit-learn: that path costs numpy + scipy + scikit-learn (~62 MB of
wheels) for one sparse product, sumy needs NLTK's punkt data downloaded at run time, and summa (unmaintained
since 2019) pulls scipy. Similarities are accumulated through an inverted index (pairs that share a term
only), so a long transcript costs the sum of its terms' squared frequencies, not n² full comparisons; the
input is capped by MAX_TRANSCRIPT_CHARS at the door.

`Summarizer` is the provider interface: settings.TRANSCRIPT_SUMMARIZER names the class (this TextRank by
default); an LLM endpoint can be plugged in there, off unless configured. A draft is only ever a draft: a
person reviews it into the notes, and nothing is sent from it.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from escalation.summary import sentences
from tickets.analysis import sentiment

MAX_TRANSCRIPT_CHARS = 500_000
KEY_SENTENCES = 5
DAMPING = 0.85
ITERATIONS = 50
MIN_WORDS = 4  # "Okay." and "Yes, sure." carry nothing to rank

_STOPWORDS = """
    a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves yes yeah okay ok um uh
    like right well also get got go going know think really one thing things
"""
STOPWORDS = frozenset(_STOPWORDS.split())
_TOKEN = re.compile(r"[a-z][a-z0-9'_-]+")
# "Speaker: text" at the start of a line (transcripts from call tools name who speaks).
_SPEAKER = re.compile(r"^\s*([A-Z][\w .'-]{0,40}?)\s*:\s+(.*)$")

# An action: someone commits to do something ("I'll send", "Sam will check", "we need to", "action item:").
_ACTION = re.compile(
    r"\b(?:(?P<who>I|we|you|[A-Z][a-z]+)\s+(?:will|'ll|shall|am going to|is going to|are going to|need to|needs to"
    r"|must|should|has to|have to)\s+(?!not\b)(?P<what>[^.?!]+)"
    r"|action item:?\s*(?P<item>[^.?!]+)|todo:?\s*(?P<todo>[^.?!]+))",
    re.IGNORECASE,
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DATE_PHRASE = re.compile(
    r"\b(?P<phrase>today|tonight|tomorrow|end of (?:the )?(?:day|week)|eod|eow|next week|in (?P<n>\d{1,2}) days?"
    r"|(?:by |on |this |next )?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ActionItemDraft:
    description: str
    owner: str  # as said: "I" resolves to the speaker, a name stays a name
    due_phrase: str
    due: date | None


@dataclass(frozen=True)
class Draft:
    key_sentences: list[str]
    action_items: list[ActionItemDraft]
    sentiment: float
    speakers: list[str] = field(default_factory=list)
    truncated: bool = False

    def as_dict(self) -> dict:
        return {
            "key_sentences": self.key_sentences,
            "action_items": [
                {
                    "description": a.description,
                    "owner": a.owner,
                    "due_phrase": a.due_phrase,
                    "due": a.due.isoformat() if a.due else None,
                }
                for a in self.action_items
            ],
            "sentiment": self.sentiment,
            "speakers": self.speakers,
        }


class Summarizer(Protocol):
    """The provider interface: key sentences of a text, in the text's order."""

    def key_sentences(self, units: list[str], *, limit: int) -> list[str]: ...


def _terms(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _tfidf(docs: list[list[str]]) -> list[dict[str, float]]:
    df = Counter(term for doc in docs for term in set(doc))
    n = len(docs)
    vectors = []
    for doc in docs:
        counts = Counter(doc)
        vector = {t: (1 + math.log(c)) * math.log((1 + n) / (1 + df[t]) + 1) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        vectors.append({t: v / norm for t, v in vector.items()})
    return vectors


def _similarities(vectors: list[dict[str, float]]) -> list[dict[int, float]]:
    """Cosine similarity of every pair that shares a term, through an inverted index."""
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, vector in enumerate(vectors):
        for term, weight in vector.items():
            postings[term].append((i, weight))
    edges: list[dict[int, float]] = [defaultdict(float) for _ in vectors]
    for entries in postings.values():
        for a, (i, wi) in enumerate(entries):
            for j, wj in entries[a + 1 :]:
                edges[i][j] += wi * wj
                edges[j][i] += wi * wj
    return edges


def textrank(units: list[str], *, limit: int) -> list[int]:
    """The indexes of the `limit` most central units (PageRank on the similarity graph), in text order."""
    if len(units) <= limit:
        return list(range(len(units)))
    edges = _similarities(_tfidf([_terms(u) for u in units]))
    out_weight = [sum(e.values()) for e in edges]
    n = len(units)
    scores = [1.0 / n] * n
    for _ in range(ITERATIONS):
        scores = [
            (1 - DAMPING) / n
            + DAMPING * sum(scores[j] * w / out_weight[j] for j, w in edges[i].items() if out_weight[j])
            for i in range(n)
        ]
    best = sorted(range(n), key=lambda i: (-scores[i], i))[:limit]
    return sorted(best)


class TextRankSummarizer:
    def key_sentences(self, units: list[str], *, limit: int) -> list[str]:
        return [units[i] for i in textrank(units, limit=limit)]


def _due(match: re.Match, today: date) -> date | None:
    phrase = match.group("phrase").lower()
    if match.group("iso"):
        try:
            return date.fromisoformat(match.group("iso"))
        except ValueError:
            return None
    if match.group("n"):
        return today + timedelta(days=int(match.group("n")))
    if match.group("weekday"):
        wanted = _WEEKDAYS.index(match.group("weekday").lower())
        ahead = (wanted - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead + (7 if phrase.startswith("next ") else 0))
    if phrase in ("today", "tonight", "end of day", "end of the day", "eod"):
        return today
    if phrase == "tomorrow":
        return today + timedelta(days=1)
    if phrase in ("end of week", "end of the week", "eow"):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if phrase == "next week":
        return today + timedelta(days=7 - today.weekday())
    return None


def _utterances(text: str) -> list[tuple[str, str]]:
    """(speaker, sentence) pairs; the speaker is "" where the transcript does not say."""
    out = []
    speaker = ""
    for line in text.splitlines():
        match = _SPEAKER.match(line)
        if match:
            speaker, line = match.group(1).strip(), match.group(2)
        out += [(speaker, s.strip()) for s in sentences(line) if s.strip()]
    return out


def action_items(utterances: list[tuple[str, str]], today: date) -> list[ActionItemDraft]:
    found = []
    for speaker, sentence in utterances:
        match = _ACTION.search(sentence)
        if not match:
            continue
        who = match.group("who") or speaker  # "Action item: …" is the speaker's unless it names someone
        what = (match.group("what") or match.group("item") or match.group("todo") or "").strip()
        if who.lower() == "i":
            who = speaker or "I"
        elif who.lower() in ("we", "you"):
            who = speaker if who.lower() == "we" and speaker else who
        when = _DATE_PHRASE.search(sentence)
        found.append(
            ActionItemDraft(
                description=what[:1000],
                owner=who,
                due_phrase=when.group("phrase") if when else "",
                due=_due(when, today) if when else None,
            )
        )
    return found


def draft(text: str, *, today: date, summarizer: Summarizer | None = None, limit: int = KEY_SENTENCES) -> Draft:
    """The draft of the live notes for a transcript (the caller caps its size)."""
    utterances = _utterances(text)
    units = [s for _, s in utterances if len(s.split()) >= MIN_WORDS]
    summarizer = summarizer or TextRankSummarizer()
    speakers = list(dict.fromkeys(s for s, _ in utterances if s))
    return Draft(
        key_sentences=summarizer.key_sentences(units, limit=limit),
        action_items=action_items(utterances, today),
        sentiment=round(sentiment(" ".join(s for _, s in utterances)), 3) if utterances else 0.0,
        speakers=speakers,
    )
