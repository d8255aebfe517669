"""Hostile and careless input never breaks the sandbox: a 4xx in Xero's error shape,
nothing stored, and every view of the organisation still works afterwards."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.sandbox.test_identity import consent, exchange, http, oauth_error, refresh  # noqa: F401
from xero_sandbox.bodies import MAX_BODY_BYTES, MAX_DEPTH, check_value, parse_json
from xero_sandbox.errors import ApiException
from xero_sandbox.faults import MAX_MATCHED_PATH, compile_path_pattern

JSON = {"Content-Type": "application/json"}


def _raw_control(sandbox: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A control API call that may fail (``sandbox.control`` raises for error statuses)."""
    return httpx.request(method, sandbox.url + "/__sandbox" + path, timeout=30, **kwargs)


def _contact_count(sandbox: Any) -> int:
    state = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Contacts")
    assert state.status_code == 200, state.text
    return state.json()["count"]


def _views_still_work(sandbox: Any, client: httpx.Client) -> None:
    """Lists, the request log and the state view all render after the bad request."""
    assert client.get("/Contacts").status_code == 200
    assert client.get("/Contacts", params={"page": 1}).status_code == 200
    assert sandbox.control("GET", "/requests").status_code == 200
    _contact_count(sandbox)


def _post_data_invalid(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Type"] == "PostDataInvalidException" and body["ErrorNumber"] == 14
    return body["Message"]


BAD_BODIES = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested deeper", id="100000-deep-list"),
    pytest.param(b'{"Name":' + b'{"a":' * 5000 + b"1" + b"}" * 5001, "nested", id="deep-object"),
    pytest.param(
        b'{"Name":"x","Tags":' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}",
        "nested deeper",
        id="just-too-deep",
    ),
    pytest.param(
        b'{"Name": "sur\\ud800"}', "'Name' contains a lone UTF-16 surrogate", id="surrogate"
    ),
    pytest.param(b'{"Name": "x\\udfff\\ud800"}', "surrogate", id="reversed-pair"),
    pytest.param(b'{"sur\\ud800": "x"}', "surrogate", id="surrogate-in-key"),
    pytest.param(b'{"Name": ', "Invalid Json data", id="truncated"),
    pytest.param(b'{"Name": "caf\xe9"}', "Invalid Json data", id="latin-1-bytes"),
    pytest.param(b'{"Name": NaN}', "NaN", id="nan"),
    pytest.param(b'{"Name": 1e999}', "out of range", id="infinite-number"),
    pytest.param(b'{"Name": ' + b"9" * 5000 + b"}", "Invalid Json data", id="5000-digit-int"),
    pytest.param(b'"just a string"', "Invalid JSON data", id="bare-string"),
    pytest.param(b"null", "Invalid JSON data", id="null"),
]


@pytest.mark.parametrize(("body", "fragment"), BAD_BODIES)
def test_malformed_json_is_a_400_and_stores_nothing(
    sandbox: Any, xero_client: httpx.Client, body: bytes, fragment: str
) -> None:
    before = _contact_count(sandbox)
    for method in ("PUT", "POST"):
        response = xero_client.request(method, "/Contacts", content=body, headers=JSON)
        assert fragment in _post_data_invalid(response)
    assert _contact_count(sandbox) == before
    _views_still_work(sandbox, xero_client)


def test_a_valid_surrogate_pair_is_fine(sandbox: Any, xero_client: httpx.Client) -> None:
    """An escaped pair is one astral character (here an emoji), not a lone surrogate."""
    response = xero_client.put(
        "/Contacts", content=b'{"Name": "Kiwi \\ud83e\\udd5d"}', headers=JSON
    )
    assert response.status_code == 200, response.text
    assert response.json()["Contacts"][0]["Name"] == "Kiwi \U0001f95d"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_wrong_content_type_is_a_415_and_stores_nothing(
    sandbox: Any, xero_client: httpx.Client, content_type: str
) -> None:
    before = _contact_count(sandbox)
    response = xero_client.put(
        "/Contacts", content=b'{"Name": "Typed Wrong"}', headers={"Content-Type": content_type}
    )
    message = _post_data_invalid(response, 415)
    assert content_type in message and "application/json or application/xml" in message
    assert _contact_count(sandbox) == before


def test_json_content_type_with_charset_is_accepted(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts",
        content=b'{"Name": "Charset Ltd"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


def test_oversized_body_is_a_413_without_reading_it_all(
    sandbox: Any, xero_client: httpx.Client
) -> None:
    """Xero's limit for one POST/PUT to the Accounting API is 3.5 MB (its limits page)."""
    before = _contact_count(sandbox)
    body = b'{"Name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = xero_client.put("/Contacts", content=body, headers=JSON)
    assert "larger than" in _post_data_invalid(response, 413)
    assert _contact_count(sandbox) == before
    log = sandbox.requests(path="/Contacts")
    assert log[-1]["status"] == 413 and "json" not in log[-1]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"page": "9" * 40}, "whole number"),
        ({"page": "2147483648"}, "out of range"),
        ({"page": "-1"}, "1 or greater"),
        ({"page": "0"}, "1 or greater"),
        ({"page": "1e3"}, "whole number"),
        ({"page": "one"}, "whole number"),
        ({"page": "1", "pageSize": "99999999999"}, "out of range"),
        ({"page": "1", "pageSize": "0"}, "1 or greater"),
    ],
)
def test_absurd_page_numbers_are_a_400(
    xero_client: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    response = xero_client.get("/Invoices", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Type"] == "QueryParseException" and fragment in body["Message"]


def test_largest_page_number_is_an_empty_page(xero_client: httpx.Client) -> None:
    response = xero_client.get("/Contacts", params={"page": str(2**31 - 1)})
    assert response.status_code == 200
    assert response.json()["Contacts"] == []


@pytest.mark.parametrize(
    "path", ["/Contacts/%ED%A0%80", "/Contacts/\u00e9\u4e2d", "/%00", "/Contacts/" + "a" * 5000]
)
def test_odd_paths_are_a_plain_404(xero_client: httpx.Client, path: str) -> None:
    response = xero_client.get(path)
    assert response.status_code == 404
    assert response.text == "The resource you're looking for cannot be found"


def test_unicode_in_a_where_filter_is_harmless(xero_client: httpx.Client) -> None:
    response = xero_client.get("/Contacts", params={"where": 'Name=="\u00e9\u4e2d\U0001f95d"'})
    assert response.status_code == 200
    assert response.json()["Contacts"] == []


# --------------------------------------------------------------------- authorisation code


def test_second_use_of_a_code_revokes_the_first_tokens(
    http: httpx.Client,  # noqa: F811
    sandbox: Any,
) -> None:
    """RFC 6749 4.1.2: a code used twice should revoke the tokens issued from it."""
    query = consent(http, sandbox, scope="openid offline_access accounting.contacts.read")
    first = exchange(http, sandbox, query["code"])
    assert first.status_code == 200, first.text
    tokens = first.json()
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "xero-tenant-id": sandbox.demo.tenant_id,
        "Accept": "application/json",
    }
    assert http.get("/api.xro/2.0/Contacts", headers=headers).status_code == 200
    assert oauth_error(exchange(http, sandbox, query["code"])) == "invalid_grant"
    assert http.get("/api.xro/2.0/Contacts", headers=headers).status_code == 401
    assert oauth_error(refresh(http, sandbox, tokens["refresh_token"])) == "invalid_grant"


# ------------------------------------------------------------------------- fault patterns


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a|aa)*b", r"(x*)*y", r".*.*.*x", r"a*a*b", r"(a)\1", r"(?=a).*", "x" * 201],
)
def test_fault_patterns_that_could_backtrack_are_refused(sandbox: Any, pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_path_pattern(pattern)
    response = _raw_control(sandbox, "POST", "/faults", json={"status": 500, "path": pattern})
    assert response.status_code == 400, response.text
    assert "path" in response.json()["detail"]
    assert sandbox.control("GET", "/faults").json() == []


@pytest.mark.parametrize(
    "pattern",
    [
        "/api.xro",
        "/Invoices$",
        r"/Contacts/[0-9a-f]{8}-.*",
        r"(/Invoices|/CreditNotes)/.*",
        "^/conn",
    ],
)
def test_ordinary_fault_patterns_still_work_and_stay_fast(pattern: str) -> None:
    compiled = compile_path_pattern(pattern)
    hostile = "/" + "a" * (MAX_MATCHED_PATH * 4)
    started = time.perf_counter()
    compiled.search(hostile[:MAX_MATCHED_PATH])
    assert time.perf_counter() - started < 1.0


def test_fault_matching_caps_the_path(sandbox: Any, xero_client: httpx.Client) -> None:
    sandbox.control("POST", "/faults", json={"status": 503, "path": "/Contacts/x.*z$", "count": 1})
    long = "/Contacts/x" + "y" * (MAX_MATCHED_PATH * 2) + "z"
    assert xero_client.get(long).status_code == 404  # the z lies beyond the matched prefix
    assert xero_client.get("/Contacts/xyz").status_code == 503


# ------------------------------------------------------------------------ the control API


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("PUT", "/clock", {"advance_seconds": 1e308}),
        ("PUT", "/clock", {"now": "9999-12-31T23:59:59Z"}),
        ("PUT", "/limits", {"per_minute": 10**400}),
        ("PUT", "/limits", {"per_minute": "lots"}),
        ("PUT", "/limits", {"latency_ms": 10**9}),
        ("POST", "/seed", {"organisations": "not a list"}),
        ("POST", "/seed", {"organisations": [{"name": "sur\ud800"}]}),
        ("POST", "/seed", {"records": {"t": {"Contacts": [1]}}}),
        ("POST", "/generate", {"tenant_id": "x", "count": 2, "spread_seconds": 1e308}),
    ],
)
def test_control_api_refuses_bad_values_with_a_400(
    sandbox: Any, method: str, path: str, payload: dict
) -> None:
    import json

    raw = json.dumps(payload).encode()  # keeps a lone surrogate as its \\ud800 escape
    response = _raw_control(sandbox, method, path, content=raw, headers=JSON)
    assert response.status_code in (400, 422), response.text
    assert sandbox.control("GET", "/organisations").status_code == 200
    assert sandbox.control("GET", "/clock").status_code == 200


# ------------------------------------------------------------------------------- unit level


def test_check_value_walks_without_recursion() -> None:
    deep: Any = []
    for _ in range(200_000):
        deep = [deep]
    with pytest.raises(ApiException, match="nested deeper"):
        check_value(deep)


def test_parse_json_keeps_ordinary_documents() -> None:
    assert parse_json(b"") == {}
    assert parse_json(b'{"Amount": 1.5, "Tags": [[1]]}') == {"Amount": 1.5, "Tags": [[1]]}


@pytest.mark.parametrize(
    "where",
    [
        "(" * 3000 + 'Name=="x"' + ")" * 3000,
        "!" * 5000 + 'Name=="x"',
        "NOT " * 2000 + "IsSupplier",
    ],
    ids=["3000-parentheses", "5000-nots", "2000-not-words"],
)
def test_deeply_nested_where_is_a_400_not_a_crash(
    sandbox: Any, xero_client: httpx.Client, where: str
) -> None:
    response = xero_client.get("/Contacts", params={"where": where})
    assert response.status_code == 400, response.text[:200]
    assert "nested deeper than 50" in response.json()["Message"]
    sandbox.control("PUT", f"/organisations/{sandbox.demo.tenant_id}", json={"high_volume": True})
    assert xero_client.get("/Invoices", params={"where": where}).status_code == 400
    _views_still_work(sandbox, xero_client)


@pytest.mark.parametrize("name", ["%2e%2e", ".", "%2e"])
def test_attachment_names_of_dots_are_refused(xero_client: httpx.Client, name: str) -> None:
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    response = xero_client.put(
        f"/Contacts/{contact['ContactID']}/Attachments/{name}",
        content=b"x",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code in (400, 404), response.text


@pytest.mark.slow
def test_control_api_bodies_are_bounded_too(sandbox: Any) -> None:
    from xero_sandbox.middleware import CONTROL_MAX_BODY_BYTES

    huge = b'{"organisations": [], "pad": "' + b"x" * CONTROL_MAX_BODY_BYTES + b'"}'
    response = _raw_control(sandbox, "POST", "/seed", content=huge, headers=JSON)
    assert response.status_code == 413
    assert sandbox.control("GET", "/health").json()["status"] == "ok"
