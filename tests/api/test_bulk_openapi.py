"""The OpenAPI document declares the bulk endpoints as the real router's spec does."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_csv_endpoints_have_the_real_routers_operation_ids_and_responses(
    client: FlaskClient
) -> None:
    document = client.get("/openapi.json").json
    config = document["paths"]["/api/v2/cards/csv-config"]["get"]
    assert config["operationId"] == "getCsvConfig"
    assert {"200", "401"} <= set(config["responses"])
    schema = config["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {
        "type": "object",
        "additionalProperties": {"type": "integer", "format": "int32"},
    }

    validate = document["paths"]["/api/v2/cards/validate-csv"]["post"]
    assert validate["operationId"] == "validateCsv"
    assert {"200", "400", "401", "500"} <= set(validate["responses"])
    [operation] = validate["parameters"]
    assert operation["name"] == "operation" and operation["in"] == "query"
    assert operation["required"] is True
    assert operation["schema"]["enum"] == ["CREATE", "UPDATE", "DELETE"]
    assert "multipart/form-data" in validate["requestBody"]["content"]
    items = validate["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/CsvValidationError"}
    error = document["components"]["schemas"]["CsvValidationError"]["properties"]
    assert error["rowNumber"] == {"type": "integer", "format": "int32"}
    assert error["params"]["additionalProperties"] == {"type": "string"}


def test_our_bulk_endpoints_are_documented(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    for path in (
        "/api/x/persons:batch",
        "/api/x/cards:batch",
        "/api/x/cards/import-csv",
        "/api/x/webhooks",
        "/api/x/webhooks/{subscription_id}",
        "/api/x/webhooks/{subscription_id}/deliveries",
    ):
        assert path in paths, path
