"""Check what the caller puts into a URL or a filter before it gets there.

* record IDs and numbers go into the path percent-encoded, and only when they are
  plausible (a GUID, or a number without path or query characters);
* ``ids=`` values must be GUIDs (Xero's ``IDs`` parameter and ``Guid("...")`` take nothing
  else), so a value cannot close the quote and add ``OR ...`` to the filter;
* a caller's ``where`` must have balanced parentheses and closed strings (the lexical
  rules of Xero's filter language, the same as ``xero_sandbox.where``), so once the hook
  wraps it in parentheses it cannot change the meaning of the clauses the hook adds (the
  typed view's ``Type``, ids, statuses);
* statuses and ``order`` are plain words.

Every refusal is an :class:`XeroInputError` naming the argument, before any request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from xero_provider.exceptions import XeroInputError
from xero_provider.formats import is_guid

_STATUS = re.compile(r"^[A-Z][A-Z_]*$")
_ORDER = re.compile(r"^\s*[A-Za-z][A-Za-z0-9.]*(\s+(ASC|DESC))?\s*$", re.IGNORECASE)
# Characters a record number may not hold: they would change the URL's path or query.
_PATH_UNSAFE = re.compile(r"[/\\?#%\x00-\x1f\x7f]")
MAX_NUMBER_LENGTH = 255


def guid(value: Any, what: str) -> str:
    """``value`` as a lower-case GUID string, or a clear error naming ``what``."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not is_guid(value.strip()):
        raise XeroInputError(f"{what}: expected a GUID like 'f7d6e0a4-...', got {value!r}")
    return value.strip().lower()


def guids(values: Any, what: str = "ids") -> list[str]:
    """A list of GUIDs (duplicates dropped, order kept); a lone string is refused."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | set | frozenset):
        raise XeroInputError(f"{what}: expected a list of GUIDs, got {type(values).__name__}")
    seen: dict[str, None] = {}
    for index, value in enumerate(values):
        seen.setdefault(guid(value, f"{what}[{index}]"), None)
    return list(seen)


def record_path(value: Any, *, allow_number: bool, what: str = "record_id") -> str:
    """The percent-encoded path segment for one record (GUID, or a number where allowed)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise XeroInputError(f"{what}: expected an ID (text), got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise XeroInputError(f"{what}: empty; give the record's ID")
    if is_guid(text):
        return text.lower()
    if not allow_number:
        raise XeroInputError(f"{what}: expected a GUID, got {value!r}")
    if len(text) > MAX_NUMBER_LENGTH or _PATH_UNSAFE.search(text) or text in (".", ".."):
        raise XeroInputError(
            f"{what}: {value!r} is neither a GUID nor a record number (no '/', '?', '#', "
            f"'%', '\\\\' or control characters, at most {MAX_NUMBER_LENGTH} characters)"
        )
    return quote(text, safe="")


def where(expression: Any) -> str | None:
    """The caller's ``where``, checked to be one self-contained expression (None if blank)."""
    if expression is None:
        return None
    if not isinstance(expression, str):
        raise XeroInputError(f"where: expected text, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        return None
    depth, position = 0, 0
    while position < len(text):
        char = text[position]
        if char in "\x00\r\n" or (ord(char) < 0x20 and char != "\t"):
            raise XeroInputError(f"where: control character at position {position}")
        if char == '"':
            position = _string_end(text, position)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise XeroInputError(
                    f"where: ')' at position {position} closes a parenthesis that was never "
                    "opened; a filter cannot reach outside its own parentheses"
                )
        position += 1
    if depth:
        raise XeroInputError(f"where: {depth} parenthesis(es) left open in {text!r}")
    return text


def _string_end(text: str, start: int) -> int:
    """Index after the double-quoted string at ``start`` (backslash escapes, as Xero's)."""
    position = start + 1
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        if text[position] == '"':
            return position + 1
        position += 1
    raise XeroInputError(f"where: the string starting at position {start} is never closed")


def statuses(values: Any) -> list[str]:
    """Upper-case status words; anything else is refused."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Sequence | set | frozenset):
        raise XeroInputError(f"statuses: expected a list of words, got {type(values).__name__}")
    out = []
    for index, value in enumerate(values):
        word = str(value).strip().upper() if isinstance(value, str) else None
        if not word or not _STATUS.match(word):
            raise XeroInputError(f"statuses[{index}]: expected a status like 'PAID', got {value!r}")
        out.append(word)
    return out


def order(value: Any) -> str | None:
    """``Field``, ``Field ASC`` or ``Field DESC``, comma-separated."""
    if value is None:
        return None
    if not isinstance(value, str) or not all(_ORDER.match(p) for p in value.split(",")):
        raise XeroInputError(f"order: expected 'Field ASC' or 'Field DESC', got {value!r}")
    return value.strip()


def page_size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise XeroInputError(f"page_size: expected a whole number of at least 1, got {value!r}")
    return value
