"""Schemathesis against our own /openapi.json: every listed operation, every check, bounded.

Whatever operations the document lists when this runs are tested (routes added later too), with
all of schemathesis's checks: no 500, documented statuses, media types, headers and bodies,
schema-valid data accepted, invalid data refused, authentication enforced. Examples are
derandomized (a fixed seed) and few per operation, so the run stays short on both databases.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import CheckContext
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import MakeTenant

# Per operation and generation mode (valid data, invalid data).
EXAMPLES = 8
# Statuses a schema-valid request may still get: the rules of the router refuse well-formed
# data a schema cannot describe (410 an erased person, 422 an illegal transition or an expiry
# before the issue date), besides schemathesis's defaults.
VALID_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "410", "422", "429", "5xx"]
# Contents no JSON Schema describes: what a file holds, what a reader scanned, where a host name
# points. A schema-valid request may be refused for its content, with these codes only; any
# other 400 to schema-valid data is still a failure.
CONTENT_REFUSALS = {
    "ER-0081",  # a webhook URL that is not https:// to a host resolving to public addresses
    "ER-0082",  # a file that is not UTF-8 CSV text
    "ER-0071",  # a file that is not a JPEG or PNG picture
    "ER-0090",  # a scan that is neither a card number nor a verification URL
    "ER-0091",  # a verification URL that names no card
    "ER-0092",  # a UUID that is not a card number
    "ER-0200",  # a signed message whose header or claims do not read as the protocol's
    "ER-0201",  # a text that is not a compact JWS (refused with its own code, so no pattern)
    "ER-0230",  # a JWK that does not load as a usable public key (a point off its curve...)
    "ER-0300",  # a text that is not PEM certificates, each issued by the next
    "ER-0301",  # a certificate whose subject names no PIC
}


def _content_code(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        return body.get("code")
    if isinstance(body, list) and body and isinstance(body[0], dict):  # CsvValidationError list
        return (body[0].get("params") or {}).get("code")
    return None


@schemathesis.check
def valid_data_accepted_unless_its_content_is_refused(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """positive_data_acceptance, where a 400 for a content refusal (above) is an answer."""
    if response.status_code == 400 and _content_code(response) in CONTENT_REFUSALS:
        return None
    return positive_data_acceptance(ctx, response, case)


def _run(strategy: SearchStrategy[Case], check: Callable) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Case) -> None:
        check(case)

    run()


def test_the_router_does_what_its_document_says(app: Flask, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("999999999", "Demo University")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.checks.positive_data_acceptance.expected_statuses = VALID_DATA_STATUSES

    def call(case: Case) -> None:
        case.call_and_validate(
            headers=tenant.headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[valid_data_accepted_unless_its_content_is_refused],
        )

    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    for operation in operations:
        # The coverage phase: boundary values, missing parameters, unexpected methods (Allow).
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=modes,
            generation_config=schema.config.generation_for(operation=operation),
        )
        for case in coverage:
            try:
                call(case)
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt):
                    raise
                failures.setdefault(f"{operation.label} [coverage]", str(error)[:1500])
        # The fuzzing phase: a few derandomized examples of valid and of invalid requests.
        for mode in modes:
            try:
                _run(operation.as_strategy(generation_mode=mode), call)
            except Unsatisfiable:
                # No invalid request exists (an operation without parameters or body).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except BaseException as error:  # every operation's failures, then report all
                if isinstance(error, KeyboardInterrupt):
                    raise
                failures[f"{operation.label} [{mode.value}]"] = str(error)[:1500]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
