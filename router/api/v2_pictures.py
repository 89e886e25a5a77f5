"""``/api/v2/organisations/{id}/person/{esi}/picture``: the real router's person pictures."""

from __future__ import annotations

from typing import Any

from flask import Response, json, url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import fields

from router.api.blueprint import RouterBlueprint, operation_doc
from router.api.fields import ESI_PARAMETER, ORGANISATION_ID_PARAMETER
from router.api.schemas import InputSchema
from router.request_context import current_caller, db_session
from router.services import pictures

blp = RouterBlueprint(
    "pictures",
    __name__,
    url_prefix="/api/v2/organisations",
    description="The real router's person pictures",
    spec_tag="V2/image",
)

_PATH_PARAMETERS = [ORGANISATION_ID_PARAMETER, ESI_PARAMETER]


class PictureUpload(InputSchema):
    """The multipart body of an upload."""

    file = Upload(
        required=True,
        metadata={
            "description": "The uploaded image, must be a 200px*300px image, if not, resize "
            "must be enabled"
        },
    )


class PictureArgs(InputSchema):
    """Query parameters of an upload."""

    resize = fields.Boolean(
        load_default=False,
        metadata={
            "description": "If enabled, the image will be resized and cropped to 200px*300px"
        },
    )


@blp.route("/<string:id>/person/<path:esi>/picture", parameters=_PATH_PARAMETERS)
class PersonPicture(MethodView):
    """The picture an organisation holds of one of its persons (``id``: the spec's name)."""

    @blp.doc(**operation_doc("getStudentPicture", 401, 403, 404, 500))
    @blp.doc(
        responses={
            "200": {
                "description": "File retrieved (image/jpeg or image/png)",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    )
    def get(self, id: str, esi: str) -> Response:
        """Download your organisation's picture of a person."""
        picture = pictures.get_picture(db_session(), current_caller(), id, esi)
        return Response(picture.content, mimetype=picture.content_type)

    @blp.arguments(PictureArgs, location="query")
    @blp.arguments(PictureUpload, location="files")
    @blp.doc(**operation_doc("uploadStudentPicture", 400, 401, 403, 404, 500))
    @blp.doc(
        responses={
            "201": {
                "description": "File created",
                "content": {"application/json": {"schema": {"type": "string"}}},
            }
        }
    )
    def post(self, args: dict[str, Any], upload: dict[str, Any], id: str, esi: str) -> Response:
        """Store your organisation's 200x300 picture of a person (resize=true to fit any image)."""
        pictures.store_picture(
            db_session(), current_caller(), id, esi, upload["file"].read(), resize=args["resize"]
        )
        location = url_for("pictures.PersonPicture", id=id, esi=esi)
        response = Response(json.dumps(location), status=201, mimetype="application/json")
        response.headers["Location"] = location
        return response

    @blp.response(204)
    @blp.doc(**operation_doc("deleteStudentPicture", 401, 403, 404, 500))
    def delete(self, id: str, esi: str) -> None:
        """Remove your organisation's picture of a person."""
        pictures.delete_picture(db_session(), current_caller(), id, esi)
