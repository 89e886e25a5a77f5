"""``/healthz`` and ``/readyz``: liveness and readiness for load balancers, without a credential."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from router.api.blueprint import RouterBlueprint, operation_doc
from router.request_context import database
from router.services import health

blp = RouterBlueprint(
    "health", __name__, description="Liveness and readiness probes", spec_tag="health"
)


class HealthView(Schema):
    """The answer of a probe."""

    status = fields.String(metadata={"description": "alive, or ready"})
    revision = fields.String(metadata={"description": "The database's migration (readyz)"})


@blp.route("/healthz")
class Liveness(MethodView):
    """The process is alive."""

    @blp.response(200, HealthView)
    @blp.doc(**operation_doc("liveness", public=True))
    def get(self) -> dict[str, Any]:
        """Answer while the process runs; it never touches the database."""
        return {"status": "alive"}


@blp.route("/readyz")
class Readiness(MethodView):
    """The router can serve requests."""

    @blp.response(200, HealthView)
    @blp.doc(**operation_doc("readiness", 503, public=True))
    def get(self) -> dict[str, Any]:
        """Answer 200 when the database answers and is migrated to the code's head, else 503."""
        ready = health.check_ready(database())
        return {"status": "ready", "revision": ready.revision}
