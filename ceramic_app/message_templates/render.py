"""Rendering template blocks in a bounded Jinja2 sandbox, and finding field references.

Blocks are rendered with jinja2.sandbox.SandboxedEnvironment plus limits of
our own, because the stock sandbox blocks unsafe attribute access but does
not bound work or memory. The limits are a filter whitelist, no method calls,
no ** operator, capped string and list repetition, a capped range(), a
wall-clock deadline and an output cap. Unknown keys render as empty text. Every failure, including a
syntax error, comes back as a message in RenderResult.error, never as an
exception.

The output is plain text (autoescape is off): a page must show it as text,
never insert it as HTML.
"""

from __future__ import annotations

import logging
import operator
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

logger = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 100_000
MAX_CONTENT_CHARS = 100_000
MAX_RANGE_ITEMS = 1_000
RENDER_TIMEOUT_SECONDS = 1.0

_SAFE_FILTERS = (
    "abs capitalize count d default dictsort e escape first float int items join"
    " last length list lower max min replace reverse round sort string striptags"
    " sum title tojson trim truncate unique upper urlencode wordcount"
).split()


class RenderTimeout(RuntimeError):
    """Rendering ran past RENDER_TIMEOUT_SECONDS."""


@dataclass(frozen=True)
class RenderResult:
    """The output of one block, or the error message that replaced it."""

    output: str
    error: str | None = None


def _capped_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE_ITEMS:
        raise SecurityError(f"range() is limited to {MAX_RANGE_ITEMS} items")
    return values


def _capped_replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(value)
    occurrences = text.count(old) if old else len(text) + 1
    if count is not None:
        occurrences = min(occurrences, max(count, 0))
    if len(text) + occurrences * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
        raise SecurityError(
            f"replace() would produce more than {MAX_OUTPUT_CHARS} characters"
        )
    return text.replace(old, new) if count is None else text.replace(old, new, count)


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox without method calls, ** or unbounded repetition."""

    intercepted_binops = frozenset({"*", "**"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Allow data attributes only; method calls such as 'x'.ljust() are blocked."""
        if callable(value):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(
        self, context: Any, operator_name: str, left: Any, right: Any
    ) -> Any:
        """Reject ** and repetitions whose result would exceed MAX_OUTPUT_CHARS."""
        if operator_name == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if (
            isinstance(sequence, str | list | tuple)
            and isinstance(times, int)
            and len(sequence) * times > MAX_OUTPUT_CHARS
        ):
            raise SecurityError(
                f"repetition would produce more than {MAX_OUTPUT_CHARS} items"
            )
        return operator.mul(left, right)


def _make_environment() -> BoundedSandbox:
    environment = BoundedSandbox(
        undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=True
    )
    environment.filters = {name: environment.filters[name] for name in _SAFE_FILTERS}
    environment.filters["replace"] = _capped_replace
    environment.globals = {"range": _capped_range}
    return environment


_ENVIRONMENT = _make_environment()


def syntax_error(content: str) -> str | None:
    """Return a message for a Jinja syntax error in content, or None."""
    if len(content) > MAX_CONTENT_CHARS:
        return f"the block has {len(content)} characters; the maximum is {MAX_CONTENT_CHARS}"
    try:
        # compile() also rejects filters outside the whitelist, which parse() accepts.
        _ENVIRONMENT.compile(content)
    except TemplateSyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.message}"
    return None


def render_block(content: str, context: Mapping[str, Any]) -> RenderResult:
    """Render one block's content with the profile values in context."""
    problem = syntax_error(content)
    if problem:
        return RenderResult("", problem)
    try:
        template = _ENVIRONMENT.from_string(content)
        output = _collect(template.generate(dict(context)))
    except RenderTimeout:
        return RenderResult(
            "",
            f"rendering took longer than {RENDER_TIMEOUT_SECONDS:g} s; simplify the loops",
        )
    except RecursionError:
        return RenderResult("", "the template calls itself too deeply")
    except Exception as exc:  # noqa: BLE001
        # A template is user code: any exception a filter or operator raises
        # (TypeError, ZeroDivisionError, SecurityError, ...) becomes a message.
        logger.info("template block failed to render: %s", exc)
        return RenderResult("", f"rendering failed: {exc}")
    return RenderResult(output)


def _collect(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    size = 0
    deadline = time.monotonic() + RENDER_TIMEOUT_SECONDS
    with _deadline_trace(deadline):
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(
                    f"the output is longer than {MAX_OUTPUT_CHARS} characters"
                )
            parts.append(chunk)
    return "".join(parts)


@contextmanager
def _deadline_trace(deadline: float) -> Iterator[None]:
    """Trace template frames and raise RenderTimeout once the deadline passes.

    Only frames of compiled template code ("<template>") are traced line by
    line, so loops without output are stopped too. The previous trace
    function (a debugger or coverage) is restored afterwards.
    """

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise RenderTimeout
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise RenderTimeout
        return on_line if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


# --- references -------------------------------------------------------------------

_REGION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
SNIPPET_CONTEXT_CHARS = 30


def find_references(content: str, key: str) -> list[str]:
    """Return a snippet for each {{ }} or {% %} tag in content that uses key.

    A use is the name key on its own, not as an attribute (x.key) or inside
    a string literal. Snippets show the tag with some text around it on one
    line, for warnings such as "used in block Body: …Hello {{ first_name }}…".
    """
    snippets = []
    for match in _REGION.finditer(content):
        if _tag_uses(match.group(0), key):
            snippets.append(_snippet(content, match.start(), match.end()))
    return snippets


def _tag_uses(tag: str, key: str) -> bool:
    try:
        tokens = [
            (kind, value)
            for _, kind, value in _ENVIRONMENT.lex(tag)
            if kind != "whitespace"
        ]
    except TemplateSyntaxError:
        # A broken tag still warns: match the key as a whole word not after '.'.
        return re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", tag) is not None
    for index, (kind, value) in enumerate(tokens):
        if kind == "name" and value == key:
            previous = tokens[index - 1] if index else None
            if previous != ("operator", "."):
                return True
    return False


def _snippet(content: str, start: int, end: int) -> str:
    left = max(0, start - SNIPPET_CONTEXT_CHARS)
    right = min(len(content), end + SNIPPET_CONTEXT_CHARS)
    text = " ".join(content[left:right].split())
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(content) else ""
    return f"{prefix}{text}{suffix}"


def referenced_names(content: str) -> set[str]:
    """Return the names content reads from the context, or an empty set if invalid."""
    try:
        return set(meta.find_undeclared_variables(_ENVIRONMENT.parse(content)))
    except TemplateSyntaxError:
        return set()
