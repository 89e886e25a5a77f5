"""QR codes of cards, drawn with segno: what the real router's ``/qr`` endpoint returns.

The code encodes the card's public verification URL (``<ESCR_PUBLIC_URL>/cards/<ESCN>``).

Chosen so that it scans once printed on a plastic card:

- error correction Q (25 % of the symbol may be scratched or dirty) as long as the symbol stays
  small (version 6, 41 modules, fits a URL of 74 bytes), else M (15 %) so that a long public URL
  does not shrink the modules; the real router uses M;
- a 4-module quiet zone, as the QR standard demands;
- sizes in physical units: a module is a whole number of dots of a 300 dpi card printer, 5 dots
  (0.42 mm) for XS, 6 (0.51 mm) for S and 12 (1.02 mm) for M; phone cameras read 0.4 mm modules at
  a normal reading distance. The SVG says its size in millimetres, the PNG carries 300 dpi.

``colours`` swaps dark and light, ``orientation`` puts the caption beside (horizontal) or under
(vertical) the code.
"""

from __future__ import annotations

import base64
import enum
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import segno

QUIET_ZONE = 4
CAPTION = "European Student Card"
PRINTER_DPI = 300
MM_PER_INCH = 25.4
# Above this version the modules of a card-sized code get too small: trade correction for size.
MAX_VERSION_AT_Q = 6
# Caption geometry, in modules: the title and number lines, and the gap around them.
TITLE_HEIGHT = 3
NUMBER_HEIGHT = 2
CAPTION_WIDTH = 44
GAP = 2


class QrSize(enum.StrEnum):
    """Sizes of the real router."""

    XS = "XS"
    S = "S"
    M = "M"


# Printer dots per module for each size (see the module docstring).
DOTS_PER_MODULE = {QrSize.XS: 5, QrSize.S: 6, QrSize.M: 12}


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

    @property
    def module_mm(self) -> float:
        """The printed side of one module, in millimetres."""
        return DOTS_PER_MODULE[self.size] * MM_PER_INCH / PRINTER_DPI


def verification_url(public_url: str, escn: str) -> str:
    """The URL a card's QR code encodes."""
    return f"{public_url.rstrip('/')}/cards/{escn}"


def make_code(url: str) -> segno.QRCode:
    """The QR symbol for ``url``: never a Micro QR, error correction Q while it stays small."""
    code = segno.make_qr(url, error="q", boost_error=False)
    if code.version > MAX_VERSION_AT_Q:
        code = segno.make_qr(url, error="m", boost_error=False)
    return code


def _code_svg(code: segno.QRCode, dark: str, light: str, x: int, y: int) -> str:
    """The symbol as segno draws it, one unit per module, placed at (x, y) in modules."""
    buffer = io.BytesIO()
    code.save(
        buffer,
        kind="svg",
        scale=1,
        border=QUIET_ZONE,
        dark=dark,
        light=light,
        xmldecl=False,
        svgns=True,
        nl=False,
        omitsize=True,
    )
    side = code.symbol_size(scale=1, border=QUIET_ZONE)[0]
    drawing = buffer.getvalue().decode("utf-8")
    return drawing.replace("<svg ", f'<svg x="{x}" y="{y}" width="{side}" height="{side}" ', 1)


def render_svg(url: str, escn: str, options: QrOptions) -> str:
    """The code and its caption as a standalone SVG document, sized in millimetres."""
    code = make_code(url)
    dark, light = options.dark_light
    side = code.symbol_size(scale=1, border=QUIET_ZONE)[0]
    caption_height = TITLE_HEIGHT + NUMBER_HEIGHT + GAP
    if options.orientation is Orientation.HORIZONTAL:
        width, height = side + CAPTION_WIDTH + GAP, side
        code_x, text_x = 0, side
        text_y = (side - caption_height) // 2 + TITLE_HEIGHT
    else:
        # One more module below the number line so that its descenders are not cut.
        width, height = max(side, CAPTION_WIDTH + 2 * GAP), side + caption_height + 1
        code_x, text_x = (width - side) // 2, (width - CAPTION_WIDTH) // 2
        text_y = side + TITLE_HEIGHT
    number_y = text_y + GAP + NUMBER_HEIGHT
    # textLength pins each line's width, so the caption never overflows whatever the font.
    caption = (
        f'<text x="{text_x}" y="{text_y}" font-family="sans-serif" font-size="{TITLE_HEIGHT}" '
        f'textLength="{CAPTION_WIDTH}" lengthAdjust="spacingAndGlyphs" fill="{dark}">'
        f"{escape(CAPTION)}</text>"
        f'<text x="{text_x}" y="{number_y}" font-family="monospace" font-size="{NUMBER_HEIGHT}" '
        f'textLength="{CAPTION_WIDTH}" lengthAdjust="spacingAndGlyphs" fill="{dark}">'
        f"{escape(escn)}</text>"
    )
    mm = options.module_mm
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * mm:.3f}mm" '
        f'height="{height * mm:.3f}mm" viewBox="0 0 {width} {height}" role="img" '
        f"aria-label={quoteattr(f'{CAPTION} {escn}')}>"
        f'<rect width="{width}" height="{height}" fill="{light}"/>'
        f"{_code_svg(code, dark, light, code_x, 0)}{caption}</svg>"
    )


def render_png(url: str, options: QrOptions) -> bytes:
    """The code alone as a 300 dpi PNG image (for printing pipelines and scanners)."""
    dark, light = options.dark_light
    buffer = io.BytesIO()
    make_code(url).save(
        buffer,
        kind="png",
        scale=DOTS_PER_MODULE[options.size],
        border=QUIET_ZONE,
        dark=dark,
        light=light,
        dpi=PRINTER_DPI,
    )
    return buffer.getvalue()


def svg_as_base64(svg: str) -> str:
    """The real router's ``text/plain`` answer: the SVG document in base64."""
    return base64.b64encode(svg.encode("utf-8")).decode("ascii")
