"""Read an XML request body into the same value a JSON body gives, as Xero does.

Xero's Accounting API takes XML as well as JSON on every write (its API docs show both
forms of each request; XeroAPI/Xero-Net PR 271 also sends XML form-encoded as ``xml=``;
pyxero sends ``application/xml``). The XML has no types, so each element is typed by
the property of that name in Xero's OpenAPI spec: arrays become lists, numbers and
booleans are converted, everything else stays text. A name the spec does not know is
read by shape (repeated children make a list, other children an object).

Hostile XML is refused before it is walked: no DTD or entities (so no entity expansion
and no external files) and no nesting deeper than :data:`bodies.MAX_DEPTH`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element, XMLPullParser
from xml.etree.ElementTree import ParseError as XmlParseError

import yaml

from xero_sandbox.bodies import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    PayloadTooLarge,
    invalid,
    media_type,
    parse_json,
    require_json,
)

XML_MEDIA = ("application/xml", "text/xml")
FORM_MEDIA = "application/x-www-form-urlencoded"


def is_xml_media(content_type: str | None) -> bool:
    media = media_type(content_type)
    return media in XML_MEDIA or media.endswith("+xml")


def is_form_xml(content_type: str | None, body: bytes) -> bool:
    """A form body whose ``xml`` field holds the document (older Xero clients)."""
    return media_type(content_type) == FORM_MEDIA and body.lstrip().startswith(b"xml=")


def form_xml(body: bytes) -> bytes:
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("xml") or [""]
    return values[0].encode("latin-1")


def parse_xml(body: bytes) -> dict[str, Any]:
    """``<Contacts><Contact>..</Contact></Contacts>`` -> ``{"Contacts": [{..}]}``; a single
    ``<Contact>..</Contact>`` -> ``{"Contacts": [{..}]}`` too (pyxero sends one record so)."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    if not body.strip():
        return {}
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise invalid("Invalid Xml data: a DTD or entity declaration is not accepted.")
    root = _parse_bounded(body)
    value = _value(root, _kinds().get(root.tag))
    if isinstance(value, list):
        return {root.tag: value}
    if isinstance(value, dict):
        return {plural(root.tag): [value]}
    return {root.tag: value}


def plural(name: str) -> str:
    """``Contact`` -> ``Contacts``, ``TrackingCategory`` -> ``TrackingCategories``."""
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith("s"):
        return name + "es"
    return name + "s"


def _parse_bounded(body: bytes) -> Element:
    """Parse with a depth check on every start tag, so depth never reaches recursion."""
    parser = XMLPullParser(events=("start", "end"))
    depth = 0
    try:
        parser.feed(body)
        parser.close()
    except XmlParseError as exc:
        raise invalid(f"Invalid Xml data: {exc}") from None
    root = None
    for event, element in parser.read_events():
        if event == "start":
            depth += 1
            if depth > MAX_DEPTH:
                raise invalid(f"Invalid Xml data: nested deeper than {MAX_DEPTH} levels.")
            root = root if root is not None else element
        else:
            depth -= 1
    if root is None:
        raise invalid("Invalid Xml data: no root element.")
    _strip_namespaces(root)
    return root


def _strip_namespaces(root: Element) -> None:
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]


def _value(element: Element, kind: str | None) -> Any:
    children = list(element)
    if kind == "array" or (kind is None and _looks_like_list(element, children)):
        return [_value(child, _kinds().get(child.tag, "object")) for child in children]
    if children:
        return {child.tag: _value(child, _kinds().get(child.tag)) for child in children}
    if kind == "object":
        return {}
    return _scalar(element.text or "", kind)


def _looks_like_list(element: Element, children: list[Element]) -> bool:
    tags = {child.tag for child in children}
    return len(tags) == 1 and (len(children) > 1 or element.tag.endswith("s"))


def _scalar(text: str, kind: str | None) -> Any:
    stripped = text.strip()
    if kind == "boolean" and stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if kind in ("number", "integer") and stripped:
        try:
            number = float(stripped)
        except ValueError:
            return text  # left as sent: the field's own check names it
        return int(number) if kind == "integer" and number.is_integer() else number
    return text


@lru_cache(maxsize=1)
def _kinds() -> dict[str, str]:
    """Property name -> array/object/number/integer/boolean/string, from Xero's spec."""
    from xero_sandbox.conformance import spec_dir

    with open(spec_dir() / "xero_accounting.yaml", encoding="utf-8") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        schemas = yaml.load(handle, Loader=loader)["components"]["schemas"]
    kinds: dict[str, set[str]] = {}
    for schema in schemas.values():
        for name, prop in (schema.get("properties") or {}).items():
            kinds.setdefault(name, set()).add(_kind_of(prop, schemas))
    # A name typed two ways (Accounts, BatchPayments, User...) is read by its shape.
    return {name: next(iter(found)) for name, found in kinds.items() if len(found) == 1}


def _kind_of(prop: dict[str, Any], schemas: dict[str, Any]) -> str:
    if "$ref" in prop:
        target = schemas.get(prop["$ref"].rsplit("/", 1)[-1], {})
        if "enum" in target:
            return "string"
        return "array" if target.get("type") == "array" else "object"
    return str(prop.get("type") or "string")


def read_write_body(content_type: str | None, body: bytes) -> Any:
    """A write's body as a value, whichever of Xero's forms it came in (JSON, XML, form XML)."""
    if is_xml_media(content_type):
        return parse_xml(body)
    if is_form_xml(content_type, body):
        return parse_xml(form_xml(body))
    require_json(content_type, body)
    return parse_json(body)
