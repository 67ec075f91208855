"""Template block rendering in the bounded sandbox, and reference finding."""

from __future__ import annotations

import time

import pytest

from ceramic_app.message_templates.render import (
    MAX_OUTPUT_CHARS,
    find_references,
    referenced_names,
    render_block,
    syntax_error,
)

CONTEXT = {
    "first_name": "Ada",
    "seats": 3,
    "labels": ["a", "b"],
    "address": {"city": "Paris"},
    "email": "ada@example.com",
}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Hi {{ first_name }}!", "Hi Ada!"),
        ("{{ email }}", "ada@example.com"),
        ("[{{ unknown }}][{{ unknown.deeper.still }}]", "[][]"),
        ("{{ address.city }}", "Paris"),
        ("{{ labels|join(', ') }}", "a, b"),
        ("{{ nickname|default('there') }}", "there"),
        ("{% if seats > 2 %}team{% else %}solo{% endif %}", "team"),
        ("{% for label in labels %}<{{ label }}>{% endfor %}", "<a><b>"),
        ("{{ first_name|upper }} {{ seats * 2 }}", "ADA 6"),
        ("{{ first_name|replace('a', 'o') }}", "Ado"),
        ("line\n", "line\n"),
    ],
)
def test_render_block(content: str, expected: str) -> None:
    result = render_block(content, CONTEXT)
    assert result.error is None
    assert result.output == expected


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{% if %}", "syntax error on line 1"),
        ("{{ first_name|center(1000000000) }}", "No filter named 'center'"),
        ("{{ lipsum(1000000) }}", "undefined"),
        ("{{ first_name.ljust(1000000000) }}", "unsafe"),
        ("{{ ''.__class__.__mro__ }}", ""),
        ("{{ 'x' * 1000000000 }}", "repetition"),
        ("{{ [1] * 1000000000 }}", "repetition"),
        ("{{ 9 ** 9 ** 9 }}", "** operator"),
        ("{{ range(10000000)|list }}", "range() is limited"),
        ("{{ 'x'|replace('x', 'y' * 60000)|replace('y', 'zz') }}", "replace()"),
        ("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", "longer than"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "too deeply"),
        ("{{ seats / 0 }}", "division by zero"),
        ("{{ first_name + seats }}", "rendering failed"),
    ],
)
def test_hostile_block_gives_message(content: str, fragment: str) -> None:
    result = render_block(content, CONTEXT)
    if fragment:
        assert result.error is not None
        assert fragment in result.error
        assert result.output == ""
    else:
        assert result.output == ""


def test_busy_loop_times_out() -> None:
    content = (
        "{% for i in range(1000) %}{% for j in range(1000) %}"
        "{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    result = render_block(content, CONTEXT)
    elapsed = time.monotonic() - started
    assert result.error is not None
    assert "took longer than" in result.error
    assert elapsed < 3


def test_output_cap_is_exact() -> None:
    content = f"{{{{ 'x' * {MAX_OUTPUT_CHARS} }}}}"
    assert render_block(content, CONTEXT).output == "x" * MAX_OUTPUT_CHARS


def test_syntax_error_helper() -> None:
    assert syntax_error("{{ first_name }}") is None
    assert syntax_error("{{ first_name") is not None
    assert syntax_error("x" * 100_001) is not None


def test_find_references_variants() -> None:
    content = (
        "Hello {{ first_name }}, {{ other.first_name }} {{ 'first_name' }}"
        " {% if first_name %}yes{% endif %} {{ first_name_2 }} {{-first_name-}}"
    )
    snippets = find_references(content, "first_name")
    assert len(snippets) == 3
    assert "Hello {{ first_name }}" in snippets[0]
    assert "{% if first_name %}" in snippets[1]
    assert "{{-first_name-}}" in snippets[2]


def test_find_references_in_text_only() -> None:
    assert find_references("first_name is just a word here", "first_name") == []


def test_find_references_in_broken_tag() -> None:
    assert find_references("{{ first_name + }}", "first_name") == ["{{ first_name + }}"]


def test_snippet_is_one_line_with_ellipsis() -> None:
    content = "A" * 100 + "\n{{ plan }}\n" + "B" * 100
    [snippet] = find_references(content, "plan")
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "\n" not in snippet
    assert "{{ plan }}" in snippet


def test_referenced_names() -> None:
    content = "{{ a.b|upper }} {% for x in items %}{{ x }}{% endfor %} {{ c }}"
    assert referenced_names(content) == {"a", "items", "c"}
    assert referenced_names("{% if %}") == set()
