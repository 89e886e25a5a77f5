"""GET /api/v2/cards/{escn}/qr: every orientation, colour and size decodes to the card URL."""

from __future__ import annotations

import base64
import io
import itertools
import re
import xml.etree.ElementTree as ET

import cairosvg
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from router.qr import QUIET_ZONE, make_code
from tests.conftest import Register, Tenant

ORIENTATIONS = ("horizontal", "vertical")
COLOURS = ("normal", "inverted")
SIZES = ("XS", "S", "M")
COMBINATIONS = list(itertools.product(ORIENTATIONS, COLOURS, SIZES))
SVG_NS = "{http://www.w3.org/2000/svg}"


def decode(image: Image.Image) -> list[str]:
    # QR codes only, as reader_tools reads them: with every symbology, zxing-cpp once also read
    # a one-character code ('<ESC>') out of a QR code's modules.
    barcodes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [barcode.text for barcode in barcodes]


def svg_to_image(svg: bytes) -> Image.Image:
    """Render at the 300 dpi of a card printer: the SVG gives its size in millimetres."""
    return Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg, dpi=300)))


def qr(client: FlaskClient, tenant: Tenant, escn: str, accept: str, **options: str) -> TestResponse:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return client.get(
        f"/api/v2/cards/{escn}/qr?{query}", headers={**tenant.headers, "Accept": accept}
    )


@pytest.mark.parametrize(("orientation", "colours", "size"), COMBINATIONS)
def test_svg_decodes_to_the_verification_url(
    client: FlaskClient,
    uni: Tenant,
    registered: Register,
    orientation: str,
    colours: str,
    size: str,
) -> None:
    escn = registered()["escn"]
    response = qr(
        client, uni, escn, "image/svg+xml", orientation=orientation, colours=colours, size=size
    )
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    image = svg_to_image(response.data)
    assert decode(image) == [f"https://router.test/cards/{escn}"]
    width, height = image.size
    assert (width > height) if orientation == "horizontal" else (height > width)


@pytest.mark.parametrize(("orientation", "colours", "size"), COMBINATIONS)
def test_base64_text_is_the_same_svg(
    client: FlaskClient,
    uni: Tenant,
    registered: Register,
    orientation: str,
    colours: str,
    size: str,
) -> None:
    escn = registered()["escn"]
    options = {"orientation": orientation, "colours": colours, "size": size}
    svg = qr(client, uni, escn, "image/svg+xml", **options).data
    text = qr(client, uni, escn, "text/plain", **options)
    assert text.mimetype == "text/plain"
    assert base64.b64decode(text.data) == svg
    assert decode(svg_to_image(base64.b64decode(text.data))) == [
        f"https://router.test/cards/{escn}"
    ]


@pytest.mark.parametrize(("colours", "size"), list(itertools.product(COLOURS, SIZES)))
def test_png_decodes_to_the_verification_url(
    client: FlaskClient, uni: Tenant, registered: Register, colours: str, size: str
) -> None:
    escn = registered()["escn"]
    response = qr(client, uni, escn, "image/png", colours=colours, size=size)
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=1)
    assert decode(image) == [f"https://router.test/cards/{escn}"]


def test_inverted_colours_swap_dark_and_light(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    normal = svg_to_image(qr(client, uni, escn, "image/svg+xml", colours="normal").data)
    inverted = svg_to_image(qr(client, uni, escn, "image/svg+xml", colours="inverted").data)
    assert normal.convert("L").getpixel((1, 1)) > 200
    assert inverted.convert("L").getpixel((1, 1)) < 50


def test_svg_sizes_are_physical_and_grow_xs_s_m(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    widths = []
    for size in SIZES:
        svg = qr(client, uni, escn, "image/svg+xml", size=size, orientation="vertical").data
        root = ET.fromstring(svg)
        assert root.get("width").endswith("mm")
        widths.append(float(root.get("width")[:-2]))
    assert widths == sorted(widths)
    # XS fits an ID-1 card (85.6 x 54 mm) beside the photo, with modules of a readable 0.42 mm.
    assert 15 < widths[0] < 25


def test_svg_path_draws_exactly_segnos_matrix(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    """Independent of any renderer: the dark modules of the path are the encoded matrix."""
    escn = registered()["escn"]
    root = ET.fromstring(qr(client, uni, escn, "image/svg+xml").data)
    code_svg = next(e for e in root.iter(f"{SVG_NS}svg") if e is not root)
    path = next(p for p in code_svg.iter(f"{SVG_NS}path") if p.get("stroke"))
    drawn = set()
    x = y = 0.0
    for command, number, more in re.findall(r"([Mmhv])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d")):
        if command == "M":
            x, y = float(number), float(more)
        elif command == "m":
            x, y = x + float(number), y + float(more)
        elif command == "h":
            step = float(number)
            drawn.update((int(x + i), int(y)) for i in range(int(step)))
            x += step
    code = make_code(f"https://router.test/cards/{escn}")
    expected = {
        (col + QUIET_ZONE, row + QUIET_ZONE)
        for row, line in enumerate(code.matrix)
        for col, value in enumerate(line)
        if value & 1
    }
    assert drawn == expected
    assert code.error in {"Q", "M"}


def test_error_correction_is_q_for_a_card_sized_symbol() -> None:
    code = make_code("https://router.example.org/cards/f81d4fae-7dec-11d0-a765-001999999999")
    assert code.error == "Q"
    assert code.version <= 6
    long_base = "https://" + "very-long-host-name." * 4 + "example/cards/"
    assert make_code(long_base + "f81d4fae-7dec-11d0-a765-001999999999").error == "M"


def test_default_is_svg_and_unknown_media_type_is_406(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    default = client.get(f"/api/v2/cards/{escn}/qr", headers=uni.headers)
    assert default.mimetype == "image/svg+xml"
    anything = qr(client, uni, escn, "*/*")
    assert anything.mimetype == "image/svg+xml"
    refused = qr(client, uni, escn, "application/json")
    assert refused.status_code == 406
    assert refused.mimetype == "application/problem+json"


@pytest.mark.parametrize("query", ["orientation=diagonal", "colours=pink", "size=XXL", "size=xs"])
def test_bad_options_are_400(
    client: FlaskClient, uni: Tenant, registered: Register, query: str
) -> None:
    escn = registered()["escn"]
    response = client.get(f"/api/v2/cards/{escn}/qr?{query}", headers=uni.headers)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_qr_of_another_institutions_card_is_refused(
    client: FlaskClient, registered: Register, other_uni: Tenant
) -> None:
    escn = registered()["escn"]
    response = client.get(f"/api/v2/cards/{escn}/qr", headers=other_uni.headers)
    assert response.status_code == 403
    assert client.get(f"/api/v2/cards/{escn}/qr").status_code == 401


def test_public_base_url_is_configurable(
    app: Flask, client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    from dataclasses import replace

    escn = registered()["escn"]
    app.extensions["escr.settings"] = replace(
        app.extensions["escr.settings"], public_url="https://cards.example.eu/esc/"
    )
    image = Image.open(io.BytesIO(qr(client, uni, escn, "image/png").data))
    assert decode(image) == [f"https://cards.example.eu/esc/cards/{escn}"]
