"""Calculated-field expressions: parse, type-check, evaluate in Python, compile to SQL.

The language is a small subset of Python's expression grammar. The text is
parsed with `ast.parse(mode="eval")`, and every node is checked against a
whitelist before it becomes one of the node classes below. User text is never
passed to eval or compile.

    literals      42, 3.5, 'text', "text", true, false, null
    field keys    signup_date, first_name, ...; built-ins email and custom_id
                  (text) and created_at (date of creation, UTC)
    arithmetic    + - * / on numbers (division by zero gives null)
    text          + joins two texts
    comparison    == != < <= > >= between two values of one type
                  (booleans: == and != only; texts compare by code point)
    logic         and, or, not, with SQL's three-valued logic for null
    conditional   a if condition else b
    functions     today(), days_since(d), days_between(a, b),
                  date('YYYY-MM-DD'), length(t), round(x[, digits]), abs(x),
                  min(a, b, ...), max(a, b, ...), coalesce(a, b, ...)

Every operator and function except and, or, coalesce, min and max returns
null when an operand is null, as SQL does. min and max skip nulls like
LEAST and GREATEST. Numbers are IEEE-754 doubles on both sides (Python
float, PostgreSQL float8). An arithmetic result that is not finite becomes
null in Python. PostgreSQL raises an error for overflow and underflow
instead, so callers of the SQL form must fall back to Python for that batch
(fields.jobs does). A text result longer than MAX_TEXT_RESULT characters
becomes null.

Hostile input is bounded before evaluation: the source length, literal
lengths, the number of nodes and the nesting depth are capped, and there is
no exponent operator, attribute access, indexing, lambda or call of anything
but the functions above.
"""

from __future__ import annotations

import ast
import difflib
import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from ceramic_app.fields.errors import FieldError
from ceramic_app.fields.keys import KEY_PATTERN
from ceramic_app.fields.typed import is_number, parse_iso_date

MAX_EXPRESSION_CHARS = 500
MAX_NODES = 120
MAX_DEPTH = 24
MAX_STRING_LITERAL = 200
MAX_TEXT_RESULT = 10_000
MAX_ROUND_DIGITS = 10
# Python writes integral floats below 1e16 with a trailing ".0", which jsonb
# keeps as a scale. PostgreSQL's float8 to jsonb writes them without one, so
# such results are stored as JSON integers (the value is exact either way).
_EXACT_INTEGER_LIMIT = 1e16
_DECIMAL_CONTEXT = Context(prec=1200, Emax=999_999, Emin=-999_999)


class ExprType(enum.StrEnum):
    """Types an expression can have; the first four match custom field types."""

    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    BOOLEAN = "boolean"
    NULL = "null"


# Profile columns an expression may read, with their expression types.
BUILTIN_TYPES: dict[str, ExprType] = {
    "email": ExprType.TEXT,
    "custom_id": ExprType.TEXT,
    "created_at": ExprType.DATE,
}

_SQL_TYPES = {
    ExprType.NUMBER: "float8",
    ExprType.TEXT: "text",
    ExprType.DATE: "date",
    ExprType.BOOLEAN: "boolean",
}


class ExpressionError(FieldError):
    """An expression that cannot be saved; the message names the part and the reason."""


@dataclass
class _Env:
    values: Mapping[str, Any]
    today: date


@dataclass
class _SqlContext:
    alias: str
    prefix: str
    today: date
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, sql_type: str) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f"CAST(:{name} AS {sql_type})"

    def today_sql(self) -> str:
        name = f"{self.prefix}today"
        self.params[name] = self.today.isoformat()
        return f"CAST(:{name} AS date)"


# --- nodes -------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A type-checked expression node."""

    type: ExprType

    def evaluate(self, env: _Env) -> Any:
        """Return the Python value of this node (float, str, bool, date or None)."""
        raise NotImplementedError

    def sql(self, ctx: _SqlContext) -> str:
        """Return SQL of the node's type (float8, text, boolean or date)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Node):
    """A constant; dates are stored as date objects."""

    value: Any

    def evaluate(self, env: _Env) -> Any:
        return self.value

    def sql(self, ctx: _SqlContext) -> str:
        if self.value is None:
            return "NULL"
        if self.type is ExprType.BOOLEAN:
            return "TRUE" if self.value else "FALSE"
        if self.type is ExprType.DATE:
            return ctx.bind(self.value.isoformat(), "date")
        return ctx.bind(self.value, _SQL_TYPES[self.type])


@dataclass(frozen=True)
class FieldRef(Node):
    """A field key; a stored value of the wrong JSON shape reads as null."""

    key: str

    def evaluate(self, env: _Env) -> Any:
        return coerce_input(self.type, env.values.get(self.key))

    def sql(self, ctx: _SqlContext) -> str:
        # The key matched KEY_PATTERN when the node was built, so it is safe
        # to inline as a string literal.
        column = f"{ctx.alias}.attributes->'{self.key}'"
        if self.key == "created_at":
            return f"(({ctx.alias}.created_at AT TIME ZONE 'UTC')::date)"
        if self.key in ("email", "custom_id"):
            return f"({ctx.alias}.{self.key})"
        if self.type is ExprType.NUMBER:
            return f"(CASE WHEN jsonb_typeof({column}) = 'number' THEN ({column})::float8 END)"
        if self.type is ExprType.BOOLEAN:
            return f"(CASE WHEN jsonb_typeof({column}) = 'boolean' THEN ({column})::boolean END)"
        text = f"({ctx.alias}.attributes->>'{self.key}')"
        if self.type is ExprType.TEXT:
            return f"(CASE WHEN jsonb_typeof({column}) = 'string' THEN {text} END)"
        return (
            f"(CASE WHEN jsonb_typeof({column}) = 'string'"
            f" AND {text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN {text}::date END)"
        )


@dataclass(frozen=True)
class Unary(Node):
    """Negation of a number or logical not."""

    op: str
    operand: Node

    def evaluate(self, env: _Env) -> Any:
        value = self.operand.evaluate(env)
        if value is None:
            return None
        if self.op == "not":
            return not value
        return -value if self.op == "-" else value

    def sql(self, ctx: _SqlContext) -> str:
        inner = self.operand.sql(ctx)
        if self.op == "not":
            return f"(NOT {inner})"
        return f"(- {inner})" if self.op == "-" else inner


@dataclass(frozen=True)
class Arithmetic(Node):
    """+ - * / on two numbers."""

    op: str
    left: Node
    right: Node

    def evaluate(self, env: _Env) -> Any:
        left = self.left.evaluate(env)
        right = self.right.evaluate(env)
        if left is None or right is None:
            return None
        if self.op == "+":
            result = left + right
        elif self.op == "-":
            result = left - right
        elif self.op == "*":
            result = left * right
        elif right == 0:
            return None
        else:
            result = left / right
        return result if math.isfinite(result) else None

    def sql(self, ctx: _SqlContext) -> str:
        left = self.left.sql(ctx)
        right = self.right.sql(ctx)
        if self.op == "/":
            return f"({left} / NULLIF({right}, 0::float8))"
        return f"({left} {self.op} {right})"


@dataclass(frozen=True)
class Concat(Node):
    """Two texts joined."""

    left: Node
    right: Node

    def evaluate(self, env: _Env) -> Any:
        left = self.left.evaluate(env)
        right = self.right.evaluate(env)
        if left is None or right is None:
            return None
        return left + right

    def sql(self, ctx: _SqlContext) -> str:
        return f"({self.left.sql(ctx)} || {self.right.sql(ctx)})"


_COMPARE_PY = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_COMPARE_SQL = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class Compare(Node):
    """A comparison of two values of one type."""

    op: str
    left: Node
    right: Node

    def evaluate(self, env: _Env) -> Any:
        left = self.left.evaluate(env)
        right = self.right.evaluate(env)
        if left is None or right is None:
            return None
        return _COMPARE_PY[self.op](left, right)

    def sql(self, ctx: _SqlContext) -> str:
        left = self.left.sql(ctx)
        right = self.right.sql(ctx)
        if self.left.type is ExprType.TEXT:
            # The "C" collation compares UTF-8 bytes, which is code point order
            # like Python's str comparison.
            left = f'{left} COLLATE "C"'
            right = f'{right} COLLATE "C"'
        return f"({left} {_COMPARE_SQL[self.op]} {right})"


@dataclass(frozen=True)
class Logical(Node):
    """and / or over booleans with SQL's three-valued logic."""

    op: str
    operands: tuple[Node, ...]

    def evaluate(self, env: _Env) -> Any:
        values = [operand.evaluate(env) for operand in self.operands]
        decisive = self.op == "or"
        if decisive in values:
            return decisive
        if None in values:
            return None
        return not decisive

    def sql(self, ctx: _SqlContext) -> str:
        joiner = " AND " if self.op == "and" else " OR "
        return "(" + joiner.join(operand.sql(ctx) for operand in self.operands) + ")"


@dataclass(frozen=True)
class Conditional(Node):
    """then_node if test else else_node; a null test selects else_node."""

    test: Node
    then_node: Node
    else_node: Node

    def evaluate(self, env: _Env) -> Any:
        if self.test.evaluate(env) is True:
            return self.then_node.evaluate(env)
        return self.else_node.evaluate(env)

    def sql(self, ctx: _SqlContext) -> str:
        return (
            f"(CASE WHEN {self.test.sql(ctx)} THEN {self.then_node.sql(ctx)}"
            f" ELSE {self.else_node.sql(ctx)} END)"
        )


@dataclass(frozen=True)
class Call(Node):
    """A call of one of the whitelisted functions."""

    name: str
    args: tuple[Node, ...]

    def evaluate(self, env: _Env) -> Any:
        if self.name == "today":
            return env.today
        values = [arg.evaluate(env) for arg in self.args]
        if self.name == "coalesce":
            return next((value for value in values if value is not None), None)
        if self.name in ("min", "max"):
            present = [value for value in values if value is not None]
            if not present:
                return None
            return min(present) if self.name == "min" else max(present)
        if values[0] is None or (len(values) > 1 and values[1] is None):
            return None
        if self.name == "days_since":
            return float((env.today - values[0]).days)
        if self.name == "days_between":
            return float((values[1] - values[0]).days)
        if self.name == "length":
            return float(len(values[0]))
        if self.name == "abs":
            return abs(values[0])
        return round_half_away(values[0], int(values[1]) if len(values) > 1 else 0)

    def sql(self, ctx: _SqlContext) -> str:
        if self.name == "today":
            return ctx.today_sql()
        args = [arg.sql(ctx) for arg in self.args]
        if self.name == "coalesce":
            return f"COALESCE({', '.join(args)})"
        if self.name in ("min", "max"):
            function = "LEAST" if self.name == "min" else "GREATEST"
            return f"{function}({', '.join(args)})"
        if self.name == "days_since":
            return f"(({ctx.today_sql()} - {args[0]})::float8)"
        if self.name == "days_between":
            return f"(({args[1]} - {args[0]})::float8)"
        if self.name == "length":
            return f"(length({args[0]})::float8)"
        if self.name == "abs":
            return f"abs({args[0]})"
        digits = args[1] if len(args) > 1 else "0"
        return f"(round(({args[0]})::numeric, ({digits})::int)::float8)"


def round_half_away(value: float, digits: int) -> float:
    """Round like PostgreSQL's round(float8::numeric, digits).

    PostgreSQL converts float8 to numeric with 15 significant digits and
    rounds halves away from zero, so 2.675 becomes 2.68 on both sides.
    """
    decimal = Decimal(format(value, ".15g"))
    quantum = Decimal(1).scaleb(-digits)
    rounded = decimal.quantize(
        quantum, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT
    )
    return float(rounded)


def coerce_input(expr_type: ExprType, raw: Any) -> Any:
    """Return a stored JSON value as the expression type expects it, or None."""
    if raw is None:
        return None
    if expr_type is ExprType.NUMBER:
        if not is_number(raw):
            return None
        try:
            number = float(raw)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if expr_type is ExprType.TEXT:
        return raw if isinstance(raw, str) else None
    if expr_type is ExprType.BOOLEAN:
        return raw if isinstance(raw, bool) else None
    if isinstance(raw, datetime):
        return raw.astimezone(UTC).date()
    if isinstance(raw, date):
        return raw
    return parse_iso_date(raw) if isinstance(raw, str) else None


def to_json_value(expr_type: ExprType, value: Any) -> Any:
    """Return a Python result in its stored JSON form (None for no value)."""
    if value is None:
        return None
    if expr_type is ExprType.NUMBER:
        if value.is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
            return int(value)
        return value
    if expr_type is ExprType.DATE:
        return value.isoformat()
    if expr_type is ExprType.TEXT and len(value) > MAX_TEXT_RESULT:
        return None
    return value


# --- compiled expression ---------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed, type-checked expression with its result type and field references."""

    source: str
    root: Node
    type: ExprType
    references: frozenset[str]

    def evaluate(self, record: Mapping[str, Any], today: date) -> Any:
        """Evaluate against a profile record and return the JSON value or None.

        record maps field keys (and email, custom_id, created_at) to stored
        values; see profile_record().
        """
        value = self.root.evaluate(_Env(record, today))
        return to_json_value(self.type, value)

    def to_sql(
        self, today: date, *, alias: str = "p", prefix: str = "x"
    ) -> tuple[str, dict[str, Any]]:
        """Return SQL of type jsonb (NULL for no value) and its bound parameters.

        alias names a row with the profiles columns; prefix keeps parameter
        names apart when several expressions share one statement.
        """
        ctx = _SqlContext(alias=alias, prefix=prefix, today=today)
        inner = self.root.sql(ctx)
        if self.type is ExprType.DATE:
            return f"to_jsonb(to_char({inner}, 'YYYY-MM-DD'))", ctx.params
        if self.type is ExprType.TEXT:
            return (
                f"(SELECT to_jsonb(CASE WHEN length(v) <= {MAX_TEXT_RESULT} THEN v END)"
                f" FROM (SELECT {inner} AS v) AS result)",
                ctx.params,
            )
        return f"to_jsonb({inner})", ctx.params


def profile_record(
    attributes: Mapping[str, Any],
    *,
    email: str | None = None,
    custom_id: str | None = None,
    created_at: datetime | date | None = None,
) -> dict[str, Any]:
    """Build the record an expression reads: attributes plus the built-in columns."""
    record = dict(attributes)
    record["email"] = email
    record["custom_id"] = custom_id
    record["created_at"] = created_at
    return record


# --- parsing and type checking ---------------------------------------------------

_FUNCTIONS: dict[str, tuple[int, int]] = {
    "today": (0, 0),
    "days_since": (1, 1),
    "days_between": (2, 2),
    "date": (1, 1),
    "length": (1, 1),
    "round": (1, 2),
    "abs": (1, 1),
    "min": (2, 10),
    "max": (2, 10),
    "coalesce": (2, 10),
}

_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_UNSUPPORTED_OPERATORS = {
    ast.Pow: "**",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_COMPARE_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_FORBIDDEN_NODES = {
    ast.Attribute: "attribute access (x.y)",
    ast.Subscript: "indexing (x[...])",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "assignment (:=)",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dictionary",
    ast.Set: "a set",
    ast.Starred: "unpacking (*)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def compile_expression(
    source: str, field_types: Mapping[str, str], *, own_key: str | None = None
) -> Expression:
    """Parse and type-check an expression over fields with the given types.

    field_types maps each custom field key to its type ("text", "number",
    "date", "boolean", "array" or "json"); the built-ins are added here.
    own_key is the key of the field being defined, which may not refer to itself.

    Raises:
        ExpressionError: naming the part of the expression that is wrong.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(
            "Enter an expression, for example days_since(signup_date)."
        )
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"The expression has {len(source)} characters; the maximum is"
            f" {MAX_EXPRESSION_CHARS}."
        )
    if "\x00" in source:
        raise ExpressionError("The expression contains a NUL (0x00) character.")
    text = source.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"Syntax error{column}: {exc.msg}.") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(
            "The expression is too deeply nested or too large to parse."
        ) from None
    builder = _Builder(text, field_types, own_key)
    root = builder.build(tree.body, 0)
    if root.type is ExprType.NULL:
        raise ExpressionError("The expression is always null; use a field or a value.")
    return Expression(
        source=text, root=root, type=root.type, references=frozenset(builder.references)
    )


def parse_references(source: str) -> set[str]:
    """Return the names an expression refers to, without type checking.

    Used to build the dependency graph between calculated fields; returns an
    empty set for text that does not parse.
    """
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in ("true", "false", "null"):
            names.add(node.id)
    return names - set(_FUNCTIONS)


class _Builder:
    """Turns a Python AST into checked nodes, tracking size and references."""

    def __init__(
        self, source: str, field_types: Mapping[str, str], own_key: str | None
    ) -> None:
        self.source = source
        self.types: dict[str, str] = {**field_types}
        for key, expr_type in BUILTIN_TYPES.items():
            self.types[key] = expr_type.value
        self.own_key = own_key
        self.references: set[str] = set()
        self.nodes = 0

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        snippet = ast.get_source_segment(self.source, node) or ""
        if len(snippet) > 40:
            snippet = snippet[:39] + "…"
        where = f" in {snippet!r}" if snippet and snippet != self.source else ""
        return ExpressionError(message + where + ".")

    def build(self, node: ast.AST, depth: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(
                f"The expression has more than {MAX_NODES} parts; split it into"
                " several calculated fields."
            )
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"The expression is nested more than {MAX_DEPTH} levels deep;"
                " split it into several calculated fields."
            )
        for kind, label in _FORBIDDEN_NODES.items():
            if isinstance(node, kind):
                raise self.fail(
                    node, f"{label.capitalize()} is not allowed in an expression"
                )
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.BoolOp):
            return self.logical(node, depth)
        if isinstance(node, ast.IfExp):
            return self.conditional(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def constant(self, node: ast.Constant) -> Node:
        value = node.value
        if value is None:
            return Literal(ExprType.NULL, None)
        if isinstance(value, bool):
            return Literal(ExprType.BOOLEAN, value)
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise self.fail(node, "The number is too large")
            return Literal(ExprType.NUMBER, number)
        if isinstance(value, str):
            if len(value) > MAX_STRING_LITERAL:
                raise self.fail(
                    node,
                    f"Text literals may have at most {MAX_STRING_LITERAL} characters",
                )
            return Literal(ExprType.TEXT, value)
        raise self.fail(node, f"Literal {value!r} is not supported")

    def name(self, node: ast.Name) -> Node:
        name = node.id
        if name in ("true", "false"):
            return Literal(ExprType.BOOLEAN, name == "true")
        if name == "null":
            return Literal(ExprType.NULL, None)
        if name.startswith("_") or not KEY_PATTERN.fullmatch(name):
            raise self.fail(node, f"Name {name!r} is not allowed")
        if name == self.own_key:
            raise self.fail(node, f"Field {name!r} cannot refer to itself")
        if name not in self.types:
            close = difflib.get_close_matches(name, list(self.types), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else "; create the field first."
            )
            raise ExpressionError(f"Unknown field {name!r}{hint}")
        field_type = self.types[name]
        if field_type not in _SQL_TYPES:
            raise self.fail(
                node,
                f"Field {name!r} has type {field_type}; expressions can use text,"
                " number, date and boolean fields",
            )
        self.references.add(name)
        return FieldRef(ExprType(field_type), name)

    def binary(self, node: ast.BinOp, depth: int) -> Node:
        op_type = type(node.op)
        if op_type in _UNSUPPORTED_OPERATORS:
            raise self.fail(
                node,
                f"The operator {_UNSUPPORTED_OPERATORS[op_type]} is not supported;"
                " use + - * /",
            )
        left = self.build(node.left, depth + 1)
        right = self.build(node.right, depth + 1)
        op = _ARITHMETIC[op_type]
        if op == "+" and left.type is ExprType.TEXT and right.type is ExprType.TEXT:
            return Concat(ExprType.TEXT, left, right)
        if left.type is ExprType.NUMBER and right.type is ExprType.NUMBER:
            return Arithmetic(ExprType.NUMBER, op, left, right)
        if op == "-" and left.type is ExprType.DATE and right.type is ExprType.DATE:
            raise self.fail(node, "Use days_between(a, b) to subtract dates")
        if op == "+":
            raise self.fail(
                node,
                f"Cannot add {left.type.value} and {right.type.value}; + adds two"
                " numbers or joins two texts",
            )
        raise self.fail(
            node,
            f"{op} needs two numbers, not {left.type.value} and {right.type.value}",
        )

    def unary(self, node: ast.UnaryOp, depth: int) -> Node:
        operand = self.build(node.operand, depth + 1)
        if isinstance(node.op, ast.Not):
            self.expect(node, operand, ExprType.BOOLEAN, "not")
            return Unary(ExprType.BOOLEAN, "not", operand)
        if isinstance(node.op, ast.USub | ast.UAdd):
            self.expect(node, operand, ExprType.NUMBER, "a sign")
            return Unary(
                ExprType.NUMBER, "-" if isinstance(node.op, ast.USub) else "+", operand
            )
        raise self.fail(node, "The operator ~ is not supported")

    def compare(self, node: ast.Compare, depth: int) -> Node:
        if len(node.ops) > 1:
            raise self.fail(
                node, "Chained comparisons are not supported; write a < b and b < c"
            )
        op_type = type(node.ops[0])
        if op_type not in _COMPARE_OPS:
            raise self.fail(
                node,
                "Only == != < <= > >= are supported; use coalesce() to handle null",
            )
        op = _COMPARE_OPS[op_type]
        left = self.build(node.left, depth + 1)
        right = self.build(node.comparators[0], depth + 1)
        if ExprType.NULL in (left.type, right.type):
            raise self.fail(node, "Comparing with null is always null; use coalesce()")
        if left.type is not right.type:
            raise self.fail(
                node, f"Cannot compare {left.type.value} with {right.type.value}"
            )
        if left.type is ExprType.BOOLEAN and op not in ("==", "!="):
            raise self.fail(node, "Booleans can only be compared with == and !=")
        return Compare(ExprType.BOOLEAN, op, left, right)

    def logical(self, node: ast.BoolOp, depth: int) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        operands = tuple(self.build(value, depth + 1) for value in node.values)
        for operand, value in zip(operands, node.values, strict=True):
            self.expect(value, operand, ExprType.BOOLEAN, op)
        return Logical(ExprType.BOOLEAN, op, operands)

    def conditional(self, node: ast.IfExp, depth: int) -> Node:
        test = self.build(node.test, depth + 1)
        self.expect(node.test, test, ExprType.BOOLEAN, "if")
        then_node = self.build(node.body, depth + 1)
        else_node = self.build(node.orelse, depth + 1)
        result = self.common_type(node, [then_node, else_node])
        return Conditional(result, test, then_node, else_node)

    def call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            known = ", ".join(sorted(_FUNCTIONS))
            raise self.fail(node, f"Only these functions can be called: {known}")
        name = node.func.id
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        low, high = _FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise self.fail(
                node, f"{name}() takes {count} arguments, not {len(node.args)}"
            )
        if name == "date":
            return self.date_literal(node)
        args = tuple(self.build(arg, depth + 1) for arg in node.args)
        if name == "today":
            return Call(ExprType.DATE, name, args)
        if name in ("days_since", "days_between"):
            for arg, raw in zip(args, node.args, strict=True):
                self.expect(raw, arg, ExprType.DATE, f"{name}()")
            return Call(ExprType.NUMBER, name, args)
        if name == "length":
            self.expect(node.args[0], args[0], ExprType.TEXT, "length()")
            return Call(ExprType.NUMBER, name, args)
        if name in ("abs", "round"):
            self.expect(node.args[0], args[0], ExprType.NUMBER, f"{name}()")
            if name == "round" and len(args) == 2:
                self.round_digits(node.args[1])
            return Call(ExprType.NUMBER, name, args)
        result = self.common_type(node, list(args))
        if name in ("min", "max") and result not in (ExprType.NUMBER, ExprType.DATE):
            raise self.fail(
                node, f"{name}() compares numbers or dates, not {result.value}"
            )
        return Call(result, name, args)

    def date_literal(self, node: ast.Call) -> Node:
        arg = node.args[0]
        parsed = None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            parsed = parse_iso_date(arg.value)
        if parsed is None:
            raise self.fail(node, "date() takes a text literal such as '2024-03-31'")
        return Literal(ExprType.DATE, parsed)

    def round_digits(self, node: ast.AST) -> None:
        value = node.value if isinstance(node, ast.Constant) else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_ROUND_DIGITS
        ):
            raise self.fail(
                node,
                f"round() digits must be a whole number from 0 to {MAX_ROUND_DIGITS}",
            )

    def expect(
        self, node: ast.AST, built: Node, expected: ExprType, where: str
    ) -> None:
        if built.type is not expected:
            raise self.fail(
                node, f"{where} needs a {expected.value}, not a {built.type.value}"
            )

    def common_type(self, node: ast.AST, nodes: list[Node]) -> ExprType:
        types = {built.type for built in nodes} - {ExprType.NULL}
        if len(types) > 1:
            names = " and ".join(sorted(t.value for t in types))
            raise self.fail(node, f"All choices must have one type, not {names}")
        return types.pop() if types else ExprType.NULL


# --- dependencies between calculated fields -------------------------------------


def find_cycle(dependencies: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one cycle among calculated fields as [a, b, ..., a], or None.

    dependencies maps each calculated field key to the keys it reads; keys
    that are not in the mapping are ordinary fields and end a path.
    """
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(key: str) -> list[str] | None:
        state[key] = 1
        stack.append(key)
        for dependency in sorted(dependencies.get(key, ())):
            if dependency not in dependencies:
                continue
            if state.get(dependency) == 1:
                return [*stack[stack.index(dependency) :], dependency]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        stack.pop()
        state[key] = 2
        return None

    for key in sorted(dependencies):
        if key not in state:
            found = visit(key)
            if found:
                return found
    return None


def calculation_order(dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """Return calculated field keys so that each comes after the ones it reads.

    Raises:
        ExpressionError: when the fields form a cycle.
    """
    cycle = find_cycle(dependencies)
    if cycle:
        raise ExpressionError(
            "Calculated fields refer to each other in a cycle: " + " -> ".join(cycle)
        )
    order: list[str] = []
    done: set[str] = set()

    def place(key: str) -> None:
        if key in done:
            return
        done.add(key)
        for dependency in sorted(dependencies.get(key, ())):
            if dependency in dependencies:
                place(dependency)
        order.append(key)

    for key in sorted(dependencies):
        place(key)
    return order


def dependents_of(key: str, dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """Return the calculated fields that read key directly or indirectly, in order."""
    affected = {key}
    changed = True
    while changed:
        changed = False
        for calculated, reads in dependencies.items():
            if calculated not in affected and affected & set(reads):
                affected.add(calculated)
                changed = True
    return [k for k in calculation_order(dependencies) if k in affected and k != key]
