"""Check sandbox responses against Xero's official OpenAPI specs.

The specs are Xero's own files, vendored unchanged in ``spec/`` beside this module
(override the folder with ``XERO_OPENAPI_DIR``) and read at run time; nothing here
copies a schema by hand. Usage::

    spec = XeroSpec.load()
    spec.validate("GET", "http://127.0.0.1:5123/api.xro/2.0/contacts", 200, headers, body)
    client = httpx.Client(event_hooks={"response": [spec.response_hook()]})

How a response is matched: the URL path is stripped of the spec's server base path
(``/api.xro/2.0`` for accounting, none for identity) and matched case-insensitively
against the spec's path templates; literal segments beat ``{params}``, and where two
templates tie (``/Contacts/{ContactID}`` vs ``/Contacts/{ContactNumber}``) a GUID value
picks the ``...ID`` template. Paths in neither spec (``/connect/token``,
``/__sandbox/...``) are ignored.

Schema semantics are OpenAPI 3.0 (``openapi-schema-validator``'s ``OAS30ReadValidator``,
on top of ``jsonschema``). That engine is pure Python and costs ~50 ms for a 100-record
page, so when ``jsonschema-rs`` is importable the body is first checked with its Draft 4
validator, which has the same semantics for every keyword this spec uses (checked at
load: the spec has no ``nullable``/``discriminator``/``writeOnly``/``allOf``/``oneOf``/
``anyOf``; if one appears the fast path is switched off). Only a body that the fast
engine rejects is re-checked with the OAS 3.0 engine, whose error list is reported.
``XERO_SPEC_ENGINE=python`` forces the pure-Python engine.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30ReadValidator

try:  # optional fast engine
    import jsonschema_rs
except ImportError:  # pragma: no cover - depends on the environment
    jsonschema_rs = None

__all__ = ["Operation", "SpecViolation", "XeroSpec", "spec_dir"]

ENV_SPEC_DIR = "XERO_OPENAPI_DIR"
ENV_ENGINE = "XERO_SPEC_ENGINE"  # "auto" (default), "python" or "rust"
SPEC_FILES = (("accounting", "xero_accounting.yaml"), ("identity", "xero-identity.yaml"))
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
MAX_REPORTED_ERRORS = 20
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Keywords whose OAS 3.0 meaning differs from JSON Schema Draft 4 (or which Draft 4
# lacks). If any is present, the Draft 4 fast path would not be faithful.
_OAS_ONLY_KEYWORDS = frozenset(
    {"nullable", "discriminator", "writeOnly", "allOf", "oneOf", "anyOf"}
)


def spec_dir() -> Path:
    """Folder holding the Xero OpenAPI yaml files."""
    override = os.environ.get(ENV_SPEC_DIR)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "spec"


# --------------------------------------------------------------------------- formats
# One set of format checks, used by both engines (jsonschema-rs only calls them for
# strings; the numeric formats are range checks applied by the OAS 3.0 engine).

_DATE_TIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_date_time(value: object) -> bool:
    # RFC 3339 requires a "Z"/offset, but Xero's own example for the identity API's
    # Connection.createdDateUtc/updatedDateUtc (format: date-time) is
    # "2019-12-07T18:46:19.5165400": no offset and 7 fractional digits, which is what
    # Xero really sends. The spec's example is authoritative, so the offset is
    # optional and any number of fractional digits is accepted; the date and time
    # fields must still be real.
    if not isinstance(value, str):
        return True
    m = _DATE_TIME_RE.match(value)
    if not m or not _is_date(m.group(1)):
        return False
    hh, mm, ss = int(m.group(2)), int(m.group(3)), int(m.group(4))
    return hh < 24 and mm < 60 and ss < 61


def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_GUID_RE.match(value))


def _is_byte(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


def _int_range(bits: int) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return True
        return -(1 << (bits - 1)) <= value < (1 << (bits - 1))

    return check


def _any(value: object) -> bool:
    return True


_STRING_FORMATS: dict[str, Callable[[object], bool]] = {
    "uuid": _is_uuid,
    "date": _is_date,
    "date-time": _is_date_time,
    "byte": _is_byte,
    "binary": _any,
    "password": _any,
}
_ALL_FORMATS: dict[str, Callable[[object], bool]] = {
    **_STRING_FORMATS,
    "int32": _int_range(32),
    "int64": _int_range(64),
    "float": _any,  # JSON numbers: the "type" keyword already checks them
    "double": _any,
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, func in _ALL_FORMATS.items():
        checker.checks(name)(func)
    return checker


# --------------------------------------------------------------------------- loading


class _SpecLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that keeps timestamps as strings (the spec is JSON-shaped)."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SpecLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return yaml.load(fh, Loader=_SpecLoader)


def _resolve_local(doc: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/a/b``) of a non-schema object, e.g. a response."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or seen > 20:
            raise ValueError(f"unsupported $ref {ref!r}")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
    return node


def _uses_keywords(node: Any, keywords: frozenset[str]) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            found.update(k for k in cur if k in keywords)
            for key, val in cur.items():
                if key not in ("example", "examples"):
                    stack.append(val)
        elif isinstance(cur, list):
            stack.extend(cur)
    return found


# --------------------------------------------------------------------------- errors


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SpecViolation(AssertionError):
    """A sandbox response that does not conform to Xero's OpenAPI spec."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        errors: list[tuple[str, str]],
        operation: Operation | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.status = status
        self.errors = errors
        self.operation = operation
        op = f" [{operation}]" if operation else ""
        lines = [f"{self.method} {url} -> {status}{op}: {len(errors)} spec violation(s)"]
        for ptr, msg in errors[:MAX_REPORTED_ERRORS]:
            lines.append(f"  {ptr or '/'}: {msg}")
        if len(errors) > MAX_REPORTED_ERRORS:
            lines.append(f"  ... and {len(errors) - MAX_REPORTED_ERRORS} more")
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Operation:
    spec: str  # "accounting" or "identity"
    path: str  # the spec's canonical template, e.g. "/Contacts/{ContactID}"
    method: str  # upper case
    operation_id: str | None

    def __str__(self) -> str:
        return f"{self.spec} {self.method} {self.path} ({self.operation_id})"


@dataclass(frozen=True)
class _Template:
    spec: str
    path: str
    regex: re.Pattern[str]
    literal_mask: tuple[bool, ...]  # per segment: literal (True) or {param} (False)
    param_names: tuple[str, ...]
    methods: frozenset[str]


class _SchemaCheck:
    """Validator for one response schema (shared by every operation using it)."""

    def __init__(self, schema: Any, components: Any, engine: str) -> None:
        # The schema's $refs point into "#/components/...", so the validated root
        # carries the spec's components and reaches the schema through a $ref.
        root = {"$ref": "#/x-target", "x-target": schema, "components": components}
        self._root = root
        self._slow: Any = None
        self._fast: Any = None
        if engine == "rust":
            self._fast = jsonschema_rs.Draft4Validator(
                root, formats=dict(_STRING_FORMATS), validate_formats=True
            )

    def _slow_validator(self) -> Any:
        if self._slow is None:
            self._slow = OAS30ReadValidator(self._root, format_checker=_format_checker())
        return self._slow

    def errors(self, instance: Any) -> list[tuple[str, str]]:
        if self._fast is not None and self._fast.is_valid(instance):
            return []
        found = [
            (_pointer(err.absolute_path), _short(err.message))
            for err in self._slow_validator().iter_errors(instance)
        ]
        if not found and self._fast is not None:
            # The engines disagree: report what the fast one saw, flagged as such.
            found = [
                (_pointer(err.instance_path), _short(f"{err.message} (jsonschema-rs only)"))
                for err in self._fast.iter_errors(instance)
            ]
        return sorted(set(found))


def _media_base(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json_media(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


class XeroSpec:
    """Both Xero specs (accounting + identity), ready to validate responses."""

    _cache: ClassVar[dict[tuple[str, str], XeroSpec]] = {}
    _cache_lock = threading.Lock()

    def __init__(self, folder: Path | None = None, engine: str | None = None) -> None:
        folder = Path(folder) if folder else spec_dir()
        engine = (engine or os.environ.get(ENV_ENGINE) or "auto").lower()
        if engine == "auto":
            engine = "rust" if jsonschema_rs is not None else "python"
        if engine not in ("python", "rust"):
            raise ValueError(f"{ENV_ENGINE} must be auto, python or rust, not {engine!r}")
        if engine == "rust" and jsonschema_rs is None:
            raise RuntimeError("jsonschema-rs is not installed")
        self.folder = folder
        self.docs: dict[str, dict[str, Any]] = {}
        self._bases: dict[str, str] = {}
        templates: list[_Template] = []
        for name, filename in SPEC_FILES:
            path = folder / filename
            if not path.is_file():
                raise FileNotFoundError(
                    f"Xero OpenAPI spec not found: {path} (set {ENV_SPEC_DIR} to its folder)"
                )
            doc = _load_yaml(path)
            self.docs[name] = doc
            server = (doc.get("servers") or [{"url": ""}])[0]["url"]
            self._bases[name] = urlsplit(server).path.rstrip("/").lower()
            for tpl_path, item in (doc.get("paths") or {}).items():
                templates.append(self._compile_template(name, tpl_path, item))
            if engine == "rust" and _uses_keywords(doc.get("components"), _OAS_ONLY_KEYWORDS):
                engine = "python"  # Draft 4 would not be faithful; stay correct
        self.engine = engine
        self._templates = templates
        self._checks: dict[tuple[str, str], _SchemaCheck] = {}
        self._op_checks: dict[tuple[str, ...], _SchemaCheck | None] = {}
        self._checks_lock = threading.Lock()
        self._resolve = lru_cache(maxsize=16384)(self._resolve_uncached)

    @classmethod
    def load(cls, engine: str | None = None) -> XeroSpec:
        """The shared instance for the configured folder/engine (loaded once)."""
        folder = spec_dir()
        key = (str(folder), (engine or os.environ.get(ENV_ENGINE) or "auto").lower())
        with cls._cache_lock:
            inst = cls._cache.get(key)
            if inst is None:
                inst = cls._cache[key] = cls(folder, engine)
            return inst

    # ----------------------------------------------------------------- matching
    @staticmethod
    def _compile_template(spec: str, path: str, item: dict[str, Any]) -> _Template:
        segments = [s for s in path.strip("/").split("/") if s]
        parts, mask, names = [], [], []
        for seg in segments:
            m = re.fullmatch(r"\{([^}]+)\}", seg)
            if m:
                parts.append("[^/]+")
                mask.append(False)
                names.append(m.group(1))
            else:
                parts.append(re.escape(seg))
                mask.append(True)
        regex = re.compile("^/" + "/".join(parts) + "$", re.IGNORECASE)
        methods = frozenset(m.upper() for m in item if m in HTTP_METHODS)
        return _Template(spec, path, regex, tuple(mask), tuple(names), methods)

    def _resolve_uncached(self, method: str, path: str) -> Operation | None:
        candidates: list[tuple[str, _Template, str]] = []
        for name, base in self._bases.items():
            if base:
                if not (path.lower().startswith(base + "/") or path.lower() == base):
                    continue
                rel = path[len(base) :] or "/"
            else:
                rel = path
            if len(rel) > 1:
                rel = rel.rstrip("/")
            for tpl in self._templates:
                if tpl.spec == name and tpl.regex.match(rel):
                    candidates.append((name, tpl, rel))
        if not candidates:
            return None
        with_method = [c for c in candidates if method in c[1].methods]
        pool = with_method or candidates

        def rank(cand: tuple[str, _Template, str]) -> tuple[Any, ...]:
            _, tpl, rel = cand
            values = [
                v
                for v, lit in zip(rel.strip("/").split("/"), tpl.literal_mask, strict=True)
                if not lit
            ]
            guid_fit = sum(
                (n.upper().endswith("ID")) == bool(_GUID_RE.match(v))
                for n, v in zip(tpl.param_names, values, strict=True)
            )
            # literal segments first (left to right), then GUID/ID agreement
            return (tuple(not lit for lit in tpl.literal_mask), -guid_fit, tpl.path)

        _, best, _ = min(pool, key=rank)
        op = self.docs[best.spec]["paths"][best.path].get(method.lower())
        op_id = op.get("operationId") if isinstance(op, dict) else None
        return Operation(best.spec, best.path, method, op_id)

    def resolve(self, method: str, url: str) -> Operation | None:
        """Spec operation for a sandbox request, or None if no spec path matches.

        The path is matched case-insensitively; a trailing slash is ignored. When the
        path exists but not for this method, the Operation still names the path and
        its ``operation_id`` is None.
        """
        return self._resolve(method.upper(), urlsplit(url).path or "/")

    # --------------------------------------------------------------- validation
    def _check_for(self, op: Operation, status_key: str, media: str) -> _SchemaCheck | None:
        key = (op.spec, op.method, op.path, status_key, media)
        if key in self._op_checks:
            return self._op_checks[key]
        doc = self.docs[op.spec]
        if status_key == "#Error":
            schema: Any = {"$ref": "#/components/schemas/Error"}
        else:
            operation = doc["paths"][op.path][op.method.lower()]
            response = _resolve_local(doc, operation["responses"][status_key])
            schema = response["content"][media].get("schema")
        check = None
        if schema is not None:
            # Operations sharing a schema (usually one $ref) share one validator.
            share_key = (op.spec, json.dumps(schema, sort_keys=True))
            with self._checks_lock:
                check = self._checks.get(share_key)
                if check is None:
                    check = self._checks[share_key] = _SchemaCheck(
                        schema, doc.get("components", {}), self.engine
                    )
        self._op_checks[key] = check
        return check

    def validate(
        self,
        method: str,
        url: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Raise SpecViolation if this sandbox response contradicts the spec."""
        method = method.upper()
        if method in ("HEAD", "OPTIONS"):
            return
        op = self.resolve(method, url)
        if op is None:
            return  # not an API path of either spec (OAuth endpoints, /__sandbox/...)

        def fail(*errors: tuple[str, str]) -> SpecViolation:
            return SpecViolation(method, url, status, list(errors), op)

        if status == 204 and body:
            raise fail(("", f"204 response must have an empty body, got {len(body)} bytes"))
        operation = self.docs[op.spec]["paths"][op.path].get(method.lower())
        if not isinstance(operation, dict):
            # The spec has the path but not this method.
            if status < 400:
                raise fail(("", f"{method} is not documented for {op.path}"))
            return
        responses: dict[str, Any] = operation.get("responses") or {}
        status_key = str(status)
        if status_key not in responses:
            status_key = f"{status // 100}XX" if f"{status // 100}XX" in responses else ""
        if not status_key and "default" in responses and status >= 400:
            status_key = "default"
        media = _media_base(_header(headers, "content-type"))
        if not status_key:
            if status == 400:
                # Xero answers validation failures with 400 + Error on most endpoints;
                # the spec documents it on only some. A JSON 400 must be an Error.
                if body and _is_json_media(media):
                    self._check_body(fail, "#Error", op, media, body)
                return
            if status >= 400 or status == 304:
                # 401/403/404/405/429/5xx... are not documented by the spec (Xero
                # describes them on its http-response-codes page): body not checked.
                return
            documented = ", ".join(sorted(responses)) or "none"
            raise fail(("", f"status {status} not documented (documented: {documented})"))

        response = _resolve_local(self.docs[op.spec], responses[status_key])
        content: dict[str, Any] = response.get("content") or {}
        if not content:
            if status != 204 and body and status < 400:
                raise fail(("", f"spec documents no body for {status}, got {len(body)} bytes"))
            return
        if media in content:
            if _is_json_media(media):
                self._check_body(fail, status_key, op, media, body)
            return
        if self._documented_elsewhere(op, method, status_key, media):
            return
        if media in ("text/xml", "application/xml"):
            # The spec documents JSON only, but Xero answers XML to a request that does
            # not ask for JSON (its requests-and-responses page): not checked here.
            return
        documented_json = [m for m in content if _is_json_media(m)]
        if not _is_json_media(media) and media and not documented_json:
            # Only binary types documented (e.g. attachments: application/octet-stream)
            # and Xero really sends the file's own MIME type: accept any non-JSON type.
            return
        raise fail(("", f"Content-Type {media or '(missing)'!r} not documented: {sorted(content)}"))

    def _documented_elsewhere(self, op: Operation, method: str, status: str, media: str) -> bool:
        """True when another operation of the same spec is served on this path (its
        ``x-path``) and documents ``media`` for ``status``: ``getInvoiceAsPdf`` lives at
        ``/Invoices/{InvoiceID}/pdf`` but is called as ``/Invoices/{InvoiceID}`` with
        ``Accept: application/pdf``, which is what the SDKs send."""
        for item in self.docs[op.spec]["paths"].values():
            operation = item.get(method.lower()) if isinstance(item, dict) else None
            if not isinstance(operation, dict) or operation.get("x-path") != op.path:
                continue
            response = (operation.get("responses") or {}).get(status)
            if response is None:
                continue
            content = _resolve_local(self.docs[op.spec], response).get("content") or {}
            if media in content:
                return True
        return False

    def _check_body(
        self,
        fail: Callable[..., SpecViolation],
        status_key: str,
        op: Operation,
        media: str,
        body: bytes,
    ) -> None:
        try:
            instance = json.loads(body)
        except ValueError as exc:
            raise fail(("", f"body is not valid JSON: {_short(str(exc))}")) from None
        check = self._check_for(op, status_key, media)
        if check is None:
            return
        errors = check.errors(instance)
        if errors:
            raise fail(*errors)

    # --------------------------------------------------------------------- httpx
    def validate_httpx(self, response: Any) -> None:
        """Validate an ``httpx.Response`` (its body must be readable)."""
        request = response.request
        self.validate(
            request.method,
            str(request.url),
            response.status_code,
            response.headers,
            response.read(),
        )

    def response_hook(self) -> Callable[[Any], None]:
        """For ``httpx.Client(event_hooks={"response": [spec.response_hook()]})``."""

        def hook(response: Any) -> None:
            self.validate_httpx(response)

        return hook

    def async_response_hook(self) -> Callable[[Any], Any]:
        """For ``httpx.AsyncClient(event_hooks={"response": [...]})``."""

        async def hook(response: Any) -> None:
            await response.aread()
            self.validate_httpx(response)

        return hook


# --------------------------------------------------------------------------- webhooks

WEBHOOK_SPEC_FILE = "xero-webhooks.yaml"


@lru_cache(maxsize=4)
def _webhook_doc(folder: str) -> dict[str, Any]:
    return _load_yaml(Path(folder) / WEBHOOK_SPEC_FILE)


def webhook_errors(payload: Any, folder: Path | None = None) -> list[str]:
    """Where a webhook body breaks ``xero-webhooks.yaml`` (OpenAPI 3.1, JSON Schema 2020-12).

    The whole body is checked against ``WebhookEvent``; each credit note event also
    against ``CreditNoteWebhookEvent`` (as a one-event body), whose ``data`` is required.
    Formats are not asserted: the spec's own examples give ``eventDateUtc`` without a zone.
    """
    from jsonschema import Draft202012Validator

    doc = _webhook_doc(str(folder or spec_dir()))

    def check(instance: Any, schema_name: str) -> list[str]:
        schema = {**doc, "$ref": f"#/components/schemas/{schema_name}"}
        validator = Draft202012Validator(schema)
        return [
            f"{_pointer(e.absolute_path) or '/'}: {_short(e.message)}"
            for e in validator.iter_errors(instance)
        ]

    errors = check(payload, "WebhookEvent")
    for event in payload.get("events", []) if isinstance(payload, dict) else []:
        if isinstance(event, dict) and event.get("eventCategory") == "CREDITNOTE":
            single = {**payload, "events": [event]}
            errors += check(single, "CreditNoteWebhookEvent")
    return errors
