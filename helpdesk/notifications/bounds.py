"""What one render of a notification template may cost, enforced while it renders.

A manager's template runs on the shared worker: three nested loops over a list of the context took one
escalation 14 s to render, and a fourth would have passed the task's time limit and held up every
tenant's sweep. So every render carries a RenderBudget, and the template engine charges it as it goes:

- each loop iteration (a node put at the head of every `{% for %}` body) counts against MAX_ITERATIONS
  and looks at the clock;
- each piece of text a leaf node produces (text, a variable, a tag such as `{% cycle %}`) counts against
  MAX_OUTPUT when it is produced, not once the whole text is joined; container tags (`if`, `for`, `with`
  …) only assemble what their leaves produced, so nothing is counted twice;
- every filter's result is held to MAX_OUTPUT, and the filters that can build a large value from a small
  template (`ljust:"999999999"`, `join` with a long separator, `add` doubling a value through nested
  `{% with %}`) are refused before they allocate it.

Crossing a bound raises RenderLimitExceeded, which names the bound. The first breach ends the render.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.template import Context, Library, Node, NodeList, defaultfilters
from django.template.defaulttags import ForNode

MAX_ITERATIONS = 10_000  # loop iterations of one render, all loops together
MAX_OUTPUT = 50_000  # characters one render may produce (what is sent is cut to rendering.MAX_RENDERED)
MAX_SECONDS = 1.0  # wall time of one render; the default templates take well under a millisecond
MAX_SOURCE = 10_000  # characters of a template's source: parsing is paid on every render
MAX_DEPTH = 30  # tags inside tags: rendering recurses once per level, and Python's stack is finite

ITERATIONS, OUTPUT, TIME, SOURCE = "iterations", "output", "time", "source"
LIMIT_MESSAGES = {
    ITERATIONS: f"The template runs more than {MAX_ITERATIONS:,} loop iterations (the bound of one render).",
    OUTPUT: f"The template writes more than {MAX_OUTPUT:,} characters (the bound of one render).",
    TIME: f"The template takes more than {MAX_SECONDS:g} s to render (the bound of one render).",
    SOURCE: f"The template is longer than {MAX_SOURCE:,} characters.",
}


class RenderLimitExceeded(Exception):
    """A render crossed one of the bounds above. `bound` is one of ITERATIONS, OUTPUT, TIME, SOURCE."""

    def __init__(self, bound: str, *, iterations: int = 0, output: int = 0):
        super().__init__(LIMIT_MESSAGES[bound])
        self.bound = bound
        self.iterations = iterations
        self.output = output


@dataclass
class RenderBudget:
    """The running cost of one render. `clock` is injectable so tests can make time pass without waiting."""

    clock: Callable[[], float] = time.monotonic
    iterations: int = 0
    output: int = 0
    started: float = field(init=False)

    def __post_init__(self):
        self.started = self.clock()

    def _exceeded(self, bound: str) -> RenderLimitExceeded:
        return RenderLimitExceeded(bound, iterations=self.iterations, output=self.output)

    def _check_time(self) -> None:
        if self.clock() - self.started > MAX_SECONDS:
            raise self._exceeded(TIME)

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise self._exceeded(ITERATIONS)
        self._check_time()

    def emit(self, characters: int) -> None:
        self.output += characters
        if self.output > MAX_OUTPUT:
            raise self._exceeded(OUTPUT)
        self._check_time()


class BudgetContext(Context):
    """A template context that carries its render's budget (copies made by the engine keep it)."""

    def __init__(self, values: dict, *, budget: RenderBudget):
        super().__init__(values, autoescape=False)
        self.budget = budget


# --- charging the budget from the compiled template ----------------------------------------------


class _Tick(Node):
    """Put first in every loop body: one iteration, one charge."""

    def render(self, context):
        context.budget.iterate()
        return ""


class _Metered(Node):
    """Wraps a leaf node: its text is charged as soon as it is produced."""

    def __init__(self, node: Node):
        self.node = node
        self.token, self.origin = getattr(node, "token", None), getattr(node, "origin", None)

    def render(self, context):
        return self.render_annotated(context)

    def render_annotated(self, context):
        text = self.node.render_annotated(context)
        context.budget.emit(len(text))
        return text

    def get_nodes_by_type(self, nodetype):
        return self.node.get_nodes_by_type(nodetype)


def _nodelists(node: Node) -> list[NodeList]:
    """The node lists a node holds, wherever it keeps them: `if` keeps (condition, nodelist) pairs rather
    than the attributes its child_nodelists names, so the node's attributes are searched instead."""
    found = []
    for value in vars(node).values():
        if isinstance(value, NodeList):
            found.append(value)
        elif isinstance(value, list | tuple):
            for item in value:
                pairs = item if isinstance(item, tuple) else (item,)
                found += [part for part in pairs if isinstance(part, NodeList)]
    return found


def meter(nodelist: NodeList, depth: int = 1) -> int:
    """Rewrites a compiled template in place so that rendering it charges the context's budget; returns
    how deeply its tags nest (the render recurses once per level)."""
    deepest = depth
    for index, node in enumerate(nodelist):
        children = _nodelists(node)
        for child in children:
            deepest = max(deepest, meter(child, depth + 1))
        if isinstance(node, ForNode):
            node.nodelist_loop.insert(0, _Tick())
        elif not children:
            nodelist[index] = _Metered(node)
    return deepest


# --- filters: the engine's built-in filters, each held to MAX_OUTPUT ------------------------------

register = Library()
_NUMBER = re.compile(r"\d+")


def _asks_too_much(value, arg) -> bool:
    """A width or precision argument (ljust:"80", stringformat:"08d", floatformat:"2") past the output cap."""
    return any(int(number) > MAX_OUTPUT for number in _NUMBER.findall(str(arg)))


def _join_too_long(value, arg) -> bool:
    try:
        items = len(value)
    except TypeError:
        return False
    return items * len(str(arg)) > MAX_OUTPUT


PRECHECKS = {
    "ljust": _asks_too_much,
    "rjust": _asks_too_much,
    "center": _asks_too_much,
    "stringformat": _asks_too_much,
    "floatformat": _asks_too_much,
    "join": _join_too_long,
}


def _bounded(name: str, func):
    precheck = PRECHECKS.get(name)

    @functools.wraps(func)  # keeps is_safe/needs_autoescape, and the signature the parser checks
    def bounded(value, *args, **kwargs):
        if precheck is not None and args and precheck(value, args[0]):
            raise RenderLimitExceeded(OUTPUT)
        result = func(value, *args, **kwargs)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT:
            raise RenderLimitExceeded(OUTPUT)
        return result

    return bounded


for _name, _func in defaultfilters.register.filters.items():
    register.filter(_name, _bounded(_name, _func))
