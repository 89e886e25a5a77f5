"""Time the dashboard query (a page of persons with cards and histories) and count its SQL.

Run from the repository root: ``.venv/bin/python bench/graphql_dashboard.py [persons]``. It builds
a throw-away SQLite router in a temporary directory; nothing else is touched.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import event

from router import migrate
from router.app import create_app
from router.domain.lifecycle import CardAction
from router.services import cards, credentials, organisations, persons
from router.settings import Settings

QUERY = """query($n: Int!) { persons(first: $n) { totalCount edges { node {
    identifier fullName organisations { academicLevel hasPicture organisation { name } }
    cards { cardNumber state status issuer { name } processor { name }
            history { at event fromState toState actorOrganisation } } } } } }"""


def _populate(app: Flask, count: int) -> str:
    database = app.extensions["escr.database"]
    with database.session() as session:
        organisation = organisations.create_organisation(
            session, organisations.OrganisationInput(identifier="999999999", name="Bench U")
        )
        key = credentials.create_api_key(session, organisation).secret
        caller = credentials.authenticate(session, key)
        for i in range(count):
            person = persons.create_person(
                session,
                caller,
                persons.PersonInput(
                    identifier=f"urn:schac:personalUniqueCode:int:esi:FR:B{i:05d}",
                    links=[persons.LinkInput(organisation_identifier="999999999")],
                ),
            )
            card = cards.register_card(
                session,
                caller,
                cards.CardInput(
                    card_type="SMART_CDZ",
                    card_status_type="ACTIVE",
                    issued_at=dt.date(2026, 9, 1),
                    expires_at=dt.date(2030, 8, 31),
                    issuer_identifier="999999999",
                    person_identifier=person.esi,
                ),
            )
            if i % 3 == 0:
                cards.change_state(session, caller, card.card_number, CardAction.SUSPEND)
    return key


def main(count: int = 100, runs: int = 20) -> None:
    """Print the median time and the SQL statements of the dashboard query."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        migrate.upgrade(url)
        # The cost limit is lifted: the bench measures large pages on purpose.
        settings = Settings(database_url=url, instance_path=Path(tmp), graphql_max_cost=10**7)
        app = create_app(settings)
        key = _populate(app, count)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        statements: list[str] = []
        engine = app.extensions["escr.database"].engine
        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        timings = []
        for _ in range(runs):
            statements.clear()
            started = time.perf_counter()
            response = client.post(
                "/graphql", json={"query": QUERY, "variables": {"n": count}}, headers=headers
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200 and "errors" not in response.json, response.json
        print(
            f"{count} persons with cards and histories: median "
            f"{statistics.median(timings) * 1000:.1f} ms over {runs} runs, "
            f"{len(statements)} SQL statements per request"
        )
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
