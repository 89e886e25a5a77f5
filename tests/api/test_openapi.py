"""Our OpenAPI document against the real router's published one (openapi-v2.json).

Every path, method, operationId, documented status, parameter and schema property of the real
router's v2 API must be in ours with the same name and type, so its clients keep working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
# A verbatim copy of the real router's published OpenAPI document (ESC router v2).
SPEC_PATH = ROOT / "tests" / "data" / "openapi-v2.json"

# Paths of the real router not implemented yet; README lists the same ones under "Not yet".
NOT_YET: set[str] = set()
# Schemas only those paths use.
NOT_YET_SCHEMAS: set[str] = set()
# OpenAPI 3.0.3 §4.7.12.1: header parameters named Accept, Content-Type or Authorization "SHALL be
# ignored"; ours carry the credential in securitySchemes and the media type in the responses.
IGNORED_HEADERS = {"accept", "content-type", "authorization"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@pytest.fixture
def ours(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                yield path, method, operation


def _parameters(
    document: dict[str, Any], path: str, method: str
) -> dict[tuple[str, str], dict[str, Any]]:
    item = document["paths"][path]
    params = item.get("parameters", []) + item[method].get("parameters", [])
    return {
        (p["in"], p["name"]): p
        for p in params
        if not (p["in"] == "header" and p["name"].lower() in IGNORED_HEADERS)
    }


def _ref_name(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if len(schema.get("allOf", [])) == 1:
        return _ref_name(schema["allOf"][0])
    # A nullable reference (our views may carry null where a client sent nothing): the same
    # component, or null.
    refs = [s for s in schema.get("anyOf", []) if not s.get("nullable")]
    if len(refs) == 1 and len(schema["anyOf"]) == 2:
        return _ref_name(refs[0])
    return None


def _type(schema: dict[str, Any]) -> str | None:
    return schema.get("type") or ("object" if _ref_name(schema) else None)


def test_every_path_and_method_is_implemented_or_listed_as_not_yet(
    spec: dict[str, Any], ours: dict[str, Any]
) -> None:
    missing = {
        (path, method)
        for path, method, _ in _operations(spec)
        if path not in NOT_YET and method not in ours["paths"].get(path, {})
    }
    assert missing == set()
    implemented_but_listed = NOT_YET & set(ours["paths"])
    assert implemented_but_listed == set(), "remove these from NOT_YET and from README"


def test_readme_lists_the_paths_not_yet_implemented() -> None:
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"## Not yet\n(.*?)(\n## |\Z)", readme, re.S)
    assert section, "README needs a '## Not yet' section"
    listed = set(re.findall(r"`(?:[A-Z]+ )?(/api/v2/[^`]*)`", section.group(1)))
    assert listed == NOT_YET


def test_operation_ids_statuses_and_response_schemas_match(
    spec: dict[str, Any], ours: dict[str, Any]
) -> None:
    for path, method, operation in _operations(spec):
        if path in NOT_YET:
            continue
        mine = ours["paths"][path][method]
        assert mine.get("operationId") == operation["operationId"], (method, path)
        for status, response in operation["responses"].items():
            assert status in mine["responses"], (method, path, status)
            for media_type, content in response.get("content", {}).items():
                expected = _ref_name(content.get("schema", {}))
                if expected is None:
                    continue
                contents = mine["responses"][status].get("content", {})
                if status.startswith(("4", "5")):
                    # Errors are JSON whatever was asked for (the spec lists the QR's errors
                    # under image/svg+xml too): the same schema under any media type will do.
                    names = {_ref_name(c.get("schema", {})) for c in contents.values()}
                    assert expected in names, (method, path, status)
                    continue
                got = contents.get(media_type, {})
                assert _ref_name(got.get("schema", {})) == expected, (method, path, status)


def test_parameters_match_in_name_place_type_and_requiredness(
    spec: dict[str, Any], ours: dict[str, Any]
) -> None:
    for path, method, _ in _operations(spec):
        if path in NOT_YET:
            continue
        theirs = _parameters(spec, path, method)
        mine = _parameters(ours, path, method)
        for key, parameter in theirs.items():
            assert key in mine, (method, path, key)
            assert mine[key].get("required", False) == parameter.get("required", False), (
                method, path, key,
            )
            expected = parameter.get("schema", {})
            got = mine[key].get("schema", {})
            assert _type(got) == _type(expected), (method, path, key)
            if "enum" in expected:
                assert set(got.get("enum", [])) == set(expected["enum"]), (method, path, key)


def test_request_bodies_use_the_same_schemas(spec: dict[str, Any], ours: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        if path in NOT_YET or "requestBody" not in operation:
            continue
        mine = ours["paths"][path][method].get("requestBody")
        assert mine is not None, (method, path)
        for media_type, content in operation["requestBody"]["content"].items():
            assert media_type in mine["content"], (method, path, media_type)
            expected = _ref_name(content["schema"])
            if expected:
                assert _ref_name(mine["content"][media_type]["schema"]) == expected


def test_every_schema_property_has_the_same_name_type_and_values(
    spec: dict[str, Any], ours: dict[str, Any]
) -> None:
    for name, schema in spec["components"]["schemas"].items():
        if name in NOT_YET_SCHEMAS:
            continue
        mine = ours["components"]["schemas"].get(name)
        assert mine is not None, name
        for prop, expected in schema.get("properties", {}).items():
            got = mine.get("properties", {}).get(prop)
            assert got is not None, (name, prop)
            assert _type(got) == _type(expected), (name, prop)
            if _ref_name(expected):
                assert _ref_name(got) == _ref_name(expected), (name, prop)
            if expected.get("type") == "array":
                assert _ref_name(got["items"]) == _ref_name(expected["items"]), (name, prop)
                assert _type(got["items"]) == _type(expected["items"]), (name, prop)
            if "enum" in expected:
                assert set(got.get("enum", [])) == set(expected["enum"]), (name, prop)


def test_swagger_ui_is_served_offline(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/openapi.json" in page.data
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_operations_carry_the_real_routers_tags(spec: dict[str, Any], ours: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        assert ours["paths"][path][method].get("tags") == operation["tags"], (method, path)
