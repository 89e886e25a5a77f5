"""Person pictures: the 200x300 photo each organisation may hold of a person it is linked to.

A picture belongs to the organisation that uploaded it: another organisation linked to the same
person neither sees nor replaces it. Pictures are exactly 200x300 pixels; with ``resize`` the
upload is scaled and centre-cropped to that size, as the real router documents.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from router.domain.errors import InvalidPicture, PictureNotFound
from router.models import PersonPicture
from router.services import persons
from router.services.caller import Caller, Scope
from router.services.concurrency import serialised, touch

WIDTH = 200
HEIGHT = 300
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
# Far above any photo a card system sends; refuses decompression bombs before decoding.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Picture:
    """A stored picture: its media type and bytes."""

    content_type: str
    content: bytes


def _prepare(data: bytes, resize: bool) -> Picture:
    """Check the upload is a JPEG/PNG image of the right size, resizing it when asked."""
    if not data:
        raise InvalidPicture("The uploaded file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InvalidPicture(f"The picture is too large ({image.width}x{image.height}).")
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Warning) as exc:
        raise InvalidPicture("The uploaded file is not a readable JPEG or PNG image.") from exc
    if image.format not in MEDIA_TYPES:
        raise InvalidPicture(f"Pictures are JPEG or PNG, not {image.format}.")
    if image.size == (WIDTH, HEIGHT):
        return Picture(MEDIA_TYPES[image.format], data)
    if not resize:
        raise InvalidPicture(
            f"The picture is {image.width}x{image.height} pixels; it must be {WIDTH}x{HEIGHT}, "
            "or send resize=true to have it scaled and cropped.",
            details={"width": image.width, "height": image.height},
        )
    source_format = image.format  # exif_transpose returns an image without a format
    image = ImageOps.exif_transpose(image)
    fitted = ImageOps.fit(image, (WIDTH, HEIGHT), method=Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if source_format == "JPEG" or fitted.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        fitted.convert("RGB").save(buffer, format="JPEG", quality=90)
        return Picture("image/jpeg", buffer.getvalue())
    fitted.save(buffer, format="PNG", optimize=True)
    return Picture("image/png", buffer.getvalue())


def _held_by(caller: Caller, person_id: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting the caller's organisation's picture of a person."""
    return (
        PersonPicture.person_id == person_id,
        PersonPicture.organisation_id == caller.organisation_id,
    )


def _own_person_id(
    session: Session,
    caller: Caller,
    organisation_identifier: str,
    esi: str,
    *,
    writing: bool = False,
) -> int:
    caller.require_own_identifier(organisation_identifier, "The organisation")
    person = persons.get_person(session, caller, esi)
    if writing:
        touch(person)  # two uploads of one person's picture at once: the second runs again
    return person.id


def get_picture(
    session: Session, caller: Caller, organisation_identifier: str, esi: str
) -> Picture:
    """The picture the caller's organisation holds of a person it is linked to."""
    caller.require(Scope.PERSONS_READ)
    person_id = _own_person_id(session, caller, organisation_identifier, esi)
    stored = session.scalar(select(PersonPicture).where(*_held_by(caller, person_id)))
    if stored is None:
        raise PictureNotFound(f"Your organisation holds no picture of {esi}.")
    return Picture(stored.content_type, stored.content)


@serialised
def store_picture(
    session: Session,
    caller: Caller,
    organisation_identifier: str,
    esi: str,
    data: bytes,
    *,
    resize: bool = False,
) -> Picture:
    """Store (or replace) the caller's picture of a person; 200x300 unless ``resize``."""
    caller.require(Scope.PERSONS_WRITE)
    person_id = _own_person_id(session, caller, organisation_identifier, esi, writing=True)
    picture = _prepare(data, resize)
    stored = session.scalar(select(PersonPicture).where(*_held_by(caller, person_id)))
    if stored is None:
        stored = PersonPicture(person_id=person_id, organisation_id=caller.organisation_id)
        session.add(stored)
    stored.content_type = picture.content_type
    stored.content = picture.content
    session.commit()
    return picture


@serialised
def delete_picture(
    session: Session, caller: Caller, organisation_identifier: str, esi: str
) -> None:
    """Remove the caller's picture of a person; removing an absent picture is not an error."""
    caller.require(Scope.PERSONS_WRITE)
    person_id = _own_person_id(session, caller, organisation_identifier, esi, writing=True)
    session.execute(delete(PersonPicture).where(*_held_by(caller, person_id)))
    session.commit()
