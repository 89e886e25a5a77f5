"""QR codes of cards, drawn with segno: what the real router's ``/qr`` endpoint returns.

The code encodes the card's public verification URL. Error correction M and a 4-module quiet zone,
as on the real cards, so it scans when printed; ``size`` picks the scale (XS, S, M), ``colours``
swaps dark and light, ``orientation`` puts the caption beside (horizontal) or under (vertical) the
code.
"""

from __future__ import annotations

import base64
import enum
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

import segno

QUIET_ZONE = 4
CAPTION = "European Student Card"


class QrSize(enum.StrEnum):
    """Sizes of the real router, and the pixels per module each one draws."""

    XS = "XS"
    S = "S"
    M = "M"


SCALES = {QrSize.XS: 2, QrSize.S: 4, QrSize.M: 8}


class Orientation(enum.StrEnum):
    """Where the caption goes relative to the code."""

    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"


class Colours(enum.StrEnum):
    """Dark modules on light ground, or the reverse."""

    NORMAL = "normal"
    INVERTED = "inverted"


@dataclass(frozen=True)
class QrOptions:
    """Drawing options of a card's QR code."""

    orientation: Orientation = Orientation.HORIZONTAL
    colours: Colours = Colours.NORMAL
    size: QrSize = QrSize.S

    @property
    def dark_light(self) -> tuple[str, str]:
        """The (dark, light) colours to draw with."""
        return ("#000000", "#ffffff") if self.colours is Colours.NORMAL else ("#ffffff", "#000000")


def verification_url(public_url: str, escn: str) -> str:
    """The URL a card's QR code encodes."""
    return f"{public_url.rstrip('/')}/cards/{escn}"


def make_code(url: str) -> segno.QRCode:
    """The QR symbol for ``url``: error correction M, never a Micro QR."""
    return segno.make_qr(url, error="m", boost_error=False)


def render_svg(url: str, escn: str, options: QrOptions) -> str:
    """The code and its caption as a standalone SVG document."""
    code = make_code(url)
    scale = SCALES[options.size]
    dark, light = options.dark_light
    buffer = io.BytesIO()
    code.save(
        buffer,
        kind="svg",
        scale=scale,
        border=QUIET_ZONE,
        dark=dark,
        light=light,
        xmldecl=False,
        svgns=True,
        nl=False,
    )
    qr_svg = buffer.getvalue().decode("utf-8")
    side = (code.symbol_size(scale=1, border=QUIET_ZONE)[0]) * scale
    font = max(8, 3 * scale)
    if options.orientation is Orientation.HORIZONTAL:
        width, height = side + 14 * font, side
        text_x, text_y = side + font // 2, side // 2
    else:
        width, height = side, side + 3 * font
        text_x, text_y = font // 2, side + font
    caption = (
        f'<text x="{text_x}" y="{text_y}" font-family="sans-serif" font-size="{font}" '
        f'fill="{dark}">{escape(CAPTION)}</text>'
        f'<text x="{text_x}" y="{text_y + font + 2}" font-family="monospace" '
        f'font-size="{max(6, font * 2 // 3)}" fill="{dark}">{escape(escn)}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="{light}"/>'
        f"{qr_svg}{caption}</svg>"
    )


def render_png(url: str, options: QrOptions) -> bytes:
    """The code alone as a PNG image (for printing pipelines and scanners)."""
    dark, light = options.dark_light
    buffer = io.BytesIO()
    make_code(url).save(
        buffer, kind="png", scale=SCALES[options.size], border=QUIET_ZONE, dark=dark, light=light
    )
    return buffer.getvalue()


def svg_as_base64(svg: str) -> str:
    """The real router's ``text/plain`` answer: the SVG document in base64."""
    return base64.b64encode(svg.encode("utf-8")).decode("ascii")
