"""Compile Xero ``where`` filter expressions into Python predicates.

Xero's Accounting API evaluates the ``where`` query parameter with a .NET
Dynamic-LINQ-like language, e.g.::

    Status=="AUTHORISED" AND Contact.ContactID==Guid("...") AND Date>=DateTime(2026,01,31)

The sandbox must filter stored records the same way, so this module holds a small
hand-written tokenizer and recursive-descent parser (no eval, no parser generator)
covering the subset of the language real clients send.  Records are JSON dicts with
Xero's PascalCase keys; key lookup is case-insensitive because Xero's is.

Grammar (keywords and function names are case-insensitive)::

    expression := or_expr EOF
    or_expr    := and_expr (("OR" | "||") and_expr)*
    and_expr   := unary (("AND" | "&&") unary)*
    unary      := ("NOT" | "!") unary | primary
    primary    := "(" or_expr ")" | operand (compare_op operand)?
    compare_op := "==" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    operand    := literal | field
    field      := IDENT ("." IDENT)* ("." METHOD "(" args ")")*
    literal    := STRING | NUMBER | "true" | "false" | "null"
                | "Guid" "(" STRING ")"
                | "DateTime" "(" (INT "," INT "," INT ("," INT "," INT "," INT ("," INT)?)?
                                  | STRING) ")"

``=`` and ``<>`` are accepted because Dynamic LINQ (and therefore Xero) accepts them
and older SDKs send ``ContactNumber = "123"``.

Error positions are 0-based character offsets into the expression.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from xero_sandbox.dates import ms_date

__all__ = ["WhereSyntaxError", "compile_where", "parse_xero_datetime", "where_fields"]

Predicate = Callable[[Mapping[str, Any]], bool]
MAX_NESTING = 50  # parentheses and NOTs; deeper input is a syntax error, not a crash
Getter = Callable[[Mapping[str, Any]], Any]


class WhereSyntaxError(ValueError):
    """Raised for an expression that cannot be compiled.

    Xero answers such requests with a 400 validation error, so the caller needs a
    human-readable message that points at the offending spot.  ``position`` is the
    0-based character offset in the expression.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # IDENT, STRING, NUMBER, OP, KEYWORD, EOF
    value: str  # source text, except STRING which holds the decoded value
    pos: int

    def describe(self) -> str:
        """How the token is named in error messages."""
        if self.kind == "EOF":
            return "end of expression"
        if self.kind == "STRING":
            return f"token '\"{self.value}\"'"
        return f"token '{self.value}'"


_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
# Longest operators first so "<=" is not read as "<" followed by "=".
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "&&", "||", "<", ">", "=", "!", "(", ")", ",", ".")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An optional leading minus is part of the number; C#-style decimal suffix "m" is tolerated.
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?[mM]?(?![A-Za-z0-9_.])")


def _tokenize(text: str) -> list[_Token]:
    """Split the expression into tokens, rejecting characters the language lacks."""
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            value, end = _read_string(text, i)
            tokens.append(_Token("STRING", value, i))
            i = end
            continue
        if ch.isdigit() or (ch == "-" and text[i + 1 : i + 2].isdigit()):
            number = _NUMBER_RE.match(text, i)
            if not number:
                raise WhereSyntaxError(f"Invalid number at position {i}", i)
            tokens.append(_Token("NUMBER", number.group(0).rstrip("mM"), i))
            i = number.end()
            continue
        ident = _IDENT_RE.match(text, i)
        if ident:
            word = ident.group(0)
            if word.lower() in _KEYWORDS:
                tokens.append(_Token("KEYWORD", word, i))
            else:
                tokens.append(_Token("IDENT", word, i))
            i = ident.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(_Token("OP", op, i))
                i += len(op)
                break
        else:
            raise WhereSyntaxError(f"Unexpected character '{ch}' at position {i}", i)
    tokens.append(_Token("EOF", "", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode a double-quoted string starting at ``start``; return (value, index after it)."""
    out: list[str] = []
    i = start + 1
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt not in escapes:
                raise WhereSyntaxError(f"Unknown escape '\\{nxt}' at position {i}", i)
            out.append(escapes[nxt])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise WhereSyntaxError(f"Unterminated string starting at position {start}", start)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class _Guid:
    """A Guid("...") literal; kept distinct so comparisons parse the field as a GUID."""

    value: uuid.UUID


def parse_xero_datetime(value: Any) -> datetime | None:
    """Turn a record's date value into an aware UTC datetime, or None if it is not a date.

    Xero's JSON uses the Microsoft wire form ``/Date(ms+HHMM)/``; the milliseconds are
    already UTC and the offset only says which zone the value was entered in, so it does
    not shift the instant.  ISO strings without an offset are UTC (Xero stores UTC).
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    wire = ms_date(text)
    if wire is not None:
        return wire.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _as_decimal(value: Any) -> Decimal | None:
    """Numeric view of a field value; bools are not numbers even though Python says so."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def _as_bool(value: Any) -> bool | None:
    """Boolean view of a field value; Xero XML-ish payloads sometimes carry "true"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _as_text(value: Any) -> str | None:
    """String view of a field value, for string comparisons and method calls."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


def _as_guid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            return None
    return None


_ORDERING = {"<", "<=", ">", ">="}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _apply(op: str, left: Any, right: Any) -> bool:
    """Apply a comparison operator to two already-coerced, comparable values."""
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _compare(op: str, field_value: Any, literal: Any) -> bool:
    """Compare a field value (left) with a literal (right) the way Xero does.

    A missing field, or one that cannot be read as the literal's type, only satisfies
    ``!=`` (null semantics of C# lifted operators).
    """
    if literal is None:
        if op == "==":
            return field_value is None
        if op == "!=":
            return field_value is not None
        return False
    if field_value is None:
        return op == "!="

    coerced: Any
    target: Any = literal
    if isinstance(literal, bool):
        coerced = _as_bool(field_value)
    elif isinstance(literal, Decimal):
        coerced = _as_decimal(field_value)
    elif isinstance(literal, datetime):
        coerced = parse_xero_datetime(field_value)
    elif isinstance(literal, _Guid):
        coerced = _as_guid(field_value)
        target = literal.value
        if coerced is not None and op in _ORDERING:
            coerced, target = str(coerced), str(target)
    else:  # str
        text = _as_text(field_value)
        if text is None:
            coerced = None
        elif op in _ORDERING:
            # .NET OrdinalIgnoreCase compares upper-cased code points.
            coerced, target = text.upper(), literal.upper()
        else:
            coerced, target = text.casefold(), literal.casefold()
    if coerced is None:
        return op == "!="
    return _apply(op, coerced, target)


# --------------------------------------------------------------------------- parser


@dataclass
class _Field:
    """A field path, possibly followed by method calls; knows its result type."""

    getter: Getter
    returns_bool: bool  # True after Contains/StartsWith/EndsWith
    returns_text: bool  # True after ToLower/ToUpper
    pos: int


@dataclass
class _Literal:
    value: Any
    pos: int


def _lookup(record: Any, path: tuple[str, ...]) -> Any:
    """Follow a dotted path through nested mappings, matching keys case-insensitively."""
    current = record
    for name in path:
        if not isinstance(current, Mapping):
            return None
        if name in current:
            current = current[name]
            continue
        folded = name.casefold()
        for key, value in current.items():
            if isinstance(key, str) and key.casefold() == folded:
                current = value
                break
        else:
            return None
    return current


def _path_getter(path: list[str]) -> Getter:
    frozen = tuple(path)
    return lambda record: _lookup(record, frozen)


_BOOL_METHODS = {"contains", "startswith", "endswith"}
_TEXT_METHODS = {"tolower", "toupper"}


def _method(name: str, inner: Getter, arg: str | None) -> Getter:
    """Wrap ``inner`` with a string method; None in gives None out (treated as False)."""

    def call(record: Mapping[str, Any]) -> Any:
        text = _as_text(inner(record))
        if text is None:
            return None
        if name == "tolower":
            return text.lower()
        if name == "toupper":
            return text.upper()
        assert arg is not None
        haystack, needle = text.casefold(), arg.casefold()
        if name == "contains":
            return needle in haystack
        if name == "startswith":
            return haystack.startswith(needle)
        return haystack.endswith(needle)

    return call


class _Parser:
    """Recursive-descent parser producing closures, so evaluation needs no AST walk."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.fields: list[str] = []  # every field path the expression reads, as written
        self.depth = 0  # open parentheses and NOTs: bounded so no input exhausts the stack

    # -- token helpers

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "EOF":
            self.index += 1
        return token

    def at_op(self, *ops: str) -> bool:
        return self.current.kind == "OP" and self.current.value in ops

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind == "KEYWORD" and self.current.value.lower() in words

    def unexpected(self, token: _Token | None = None, expected: str | None = None) -> NoReturn:
        token = token or self.current
        message = f"Unexpected {token.describe()} at position {token.pos}"
        if expected:
            message += f"; expected {expected}"
        raise WhereSyntaxError(message, token.pos)

    def expect_op(self, op: str) -> _Token:
        if not self.at_op(op):
            self.unexpected(expected=f"'{op}'")
        return self.advance()

    # -- grammar

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.current.kind != "EOF":
            self.unexpected()
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.at_keyword("or") or self.at_op("||"):
            self.advance()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda record: any(part(record) for part in parts)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.at_keyword("and") or self.at_op("&&"):
            self.advance()
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda record: all(part(record) for part in parts)

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            token = self.current
            raise WhereSyntaxError(
                f"Expression nested deeper than {MAX_NESTING} levels at position {token.pos}",
                token.pos,
            )

    def unary(self) -> Predicate:
        if self.at_keyword("not") or self.at_op("!"):
            self.advance()
            self._nest()
            inner = self.unary()
            self.depth -= 1
            return lambda record: not inner(record)
        return self.primary()

    def primary(self) -> Predicate:
        if self.at_op("("):
            self.advance()
            self._nest()
            inner = self.or_expr()
            self.expect_op(")")
            self.depth -= 1
            return inner
        left = self.operand()
        if self.at_op("==", "=", "!=", "<>", "<", "<=", ">", ">="):
            op_token = self.advance()
            right = self.operand()
            return self.comparison(left, op_token, right)
        return self.bare(left)

    def bare(self, operand: _Field | _Literal) -> Predicate:
        """An operand used as a condition on its own: a boolean field or true/false."""
        if isinstance(operand, _Literal):
            if isinstance(operand.value, bool):
                constant = operand.value
                return lambda record: constant
            raise WhereSyntaxError(
                f"Expected a condition at position {operand.pos}, found a literal", operand.pos
            )
        if operand.returns_text:
            self.unexpected(expected="a comparison operator")
        getter = operand.getter
        return lambda record: _as_bool(getter(record)) is True

    def comparison(
        self, left: _Field | _Literal, op_token: _Token, right: _Field | _Literal
    ) -> Predicate:
        op = {"=": "==", "<>": "!="}.get(op_token.value, op_token.value)
        if isinstance(left, _Field) and isinstance(right, _Literal):
            field, literal = left, right
        elif isinstance(left, _Literal) and isinstance(right, _Field):
            field, literal, op = right, left, _FLIPPED[op]
        else:
            kind = "fields" if isinstance(left, _Field) else "literals"
            raise WhereSyntaxError(
                f"Comparison at position {op_token.pos} must be between a field and a literal,"
                f" not two {kind}",
                op_token.pos,
            )
        value = literal.value
        if isinstance(value, bool) and op in _ORDERING:
            raise WhereSyntaxError(
                f"Operator '{op_token.value}' at position {op_token.pos} cannot compare booleans",
                op_token.pos,
            )
        getter = field.getter
        return lambda record: _compare(op, getter(record), value)

    def operand(self) -> _Field | _Literal:
        token = self.current
        if token.kind == "STRING":
            self.advance()
            return _Literal(token.value, token.pos)
        if token.kind == "NUMBER":
            self.advance()
            return _Literal(Decimal(token.value), token.pos)
        if self.at_keyword("true", "false", "null"):
            self.advance()
            constants = {"true": True, "false": False, "null": None}
            return _Literal(constants[token.value.lower()], token.pos)
        if token.kind == "IDENT":
            nxt = self.tokens[self.index + 1]
            if nxt.kind == "OP" and nxt.value == "(":
                return self.function_literal()
            return self.field()
        self.unexpected(expected="a field or a value")

    def function_literal(self) -> _Literal:
        name_token = self.advance()
        name = name_token.value.lower()
        if name == "guid":
            self.expect_op("(")
            text = self.string_arg()
            self.expect_op(")")
            try:
                parsed = uuid.UUID(text.strip())
            except ValueError:
                raise WhereSyntaxError(
                    f'Invalid Guid "{text}" at position {name_token.pos}', name_token.pos
                ) from None
            return _Literal(_Guid(parsed), name_token.pos)
        if name == "datetime":
            return _Literal(self.datetime_args(name_token), name_token.pos)
        raise WhereSyntaxError(
            f"Unknown function '{name_token.value}' at position {name_token.pos}", name_token.pos
        )

    def string_arg(self) -> str:
        if self.current.kind != "STRING":
            self.unexpected(expected="a string")
        return self.advance().value

    def datetime_args(self, name_token: _Token) -> datetime:
        """DateTime(y,m,d[,h,mi,s[,ms]]) or DateTime("iso"); naive values mean UTC."""
        self.expect_op("(")
        if self.current.kind == "STRING":
            text = self.advance().value
            self.expect_op(")")
            parsed = parse_xero_datetime(text)
            if parsed is None:
                raise WhereSyntaxError(
                    f'Invalid DateTime "{text}" at position {name_token.pos}', name_token.pos
                )
            return parsed
        parts: list[int] = []
        while True:
            token = self.current
            if token.kind != "NUMBER" or not token.value.isdigit():
                self.unexpected(expected="an integer")
            parts.append(int(self.advance().value))
            if self.at_op(","):
                self.advance()
                continue
            break
        self.expect_op(")")
        if len(parts) not in (3, 6, 7):
            raise WhereSyntaxError(
                f"DateTime at position {name_token.pos} takes 3, 6 or 7 numbers, got {len(parts)}",
                name_token.pos,
            )
        try:
            moment = datetime(*parts[:6], tzinfo=UTC)
        except ValueError as exc:
            raise WhereSyntaxError(
                f"Invalid DateTime at position {name_token.pos}: {exc}", name_token.pos
            ) from None
        if len(parts) == 7:
            if parts[6] > 999:
                raise WhereSyntaxError(
                    f"Invalid DateTime at position {name_token.pos}: milliseconds must be < 1000",
                    name_token.pos,
                )
            moment += timedelta(milliseconds=parts[6])
        return moment

    def field(self) -> _Field:
        start = self.advance()
        path = [start.value]
        getter: Getter | None = None
        returns_bool = returns_text = False
        while self.at_op("."):
            self.advance()
            name_token = self.current
            if name_token.kind != "IDENT":
                self.unexpected(expected="a field or method name")
            self.advance()
            if not self.at_op("("):
                if getter is not None:
                    # Property access after a method call (e.g. .ToLower().Length) is unsupported.
                    self.unexpected(name_token, expected="a method call")
                path.append(name_token.value)
                continue
            method = name_token.value.lower()
            if method not in _BOOL_METHODS | _TEXT_METHODS:
                raise WhereSyntaxError(
                    f"Unknown method '{name_token.value}' at position {name_token.pos}",
                    name_token.pos,
                )
            if returns_bool:
                raise WhereSyntaxError(
                    f"Cannot call '{name_token.value}' on a boolean at position {name_token.pos}",
                    name_token.pos,
                )
            self.advance()  # "("
            arg = None
            if method in _BOOL_METHODS:
                arg = self.string_arg()
            self.expect_op(")")
            getter = _method(method, getter or _path_getter(path), arg)
            returns_bool = method in _BOOL_METHODS
            returns_text = method in _TEXT_METHODS
        self.fields.append(".".join(path))
        return _Field(getter or _path_getter(path), returns_bool, returns_text, start.pos)


def compile_where(expression: str) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a Xero ``where`` expression into ``predicate(record) -> bool``.

    Compiling once and applying the closure to every record keeps list endpoints cheap.
    A blank expression matches everything, as Xero ignores an empty ``where``.
    Raises WhereSyntaxError (a ValueError) with the offending position on bad input.
    """
    if not expression.strip():
        return lambda record: True
    return _Parser(expression).parse()


def where_fields(expression: str) -> list[str]:
    """The field paths a ``where`` expression reads (``Contact.ContactID``, ``Status``)."""
    if not expression.strip():
        return []
    parser = _Parser(expression)
    parser.parse()
    return parser.fields
