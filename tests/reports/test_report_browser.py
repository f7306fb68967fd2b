"""The HTML report in a real browser: it loads from disk, its filters work, it shows something.

Needs headless Chromium, its driver and selenium (Debian: ``apt-get install
chromium chromium-driver``; ``pip install selenium`` or the ``browser``
extra); where any is missing the tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.catalogue import Catalogue
from reports.write import build_reports

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install selenium, or the project's 'browser' extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARGUMENTS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--window-size=1000,800")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Return a headless Chromium with a fresh profile, quit after the test."""
    from selenium.webdriver.chrome.service import Service

    if CHROMIUM is None or not Path(DRIVER).is_file():
        pytest.skip("headless Chromium and its driver are not installed "
                    "(apt-get install chromium chromium-driver)")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(tmp_path: Path, raw_file: Path, synthetic_catalogue: Catalogue, browser: Any) -> Any:
    """Return the browser showing the synthetic run's report, opened from disk."""
    build_reports(raw_file, tmp_path / "out", synthetic_catalogue)
    browser.get((tmp_path / "out" / "report.html").as_uri())
    return browser


def _shown(driver: Any) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.entry")
    return [row.get_attribute("id")[2:] for row in rows if row.is_displayed()]


def _choose(driver: Any, control: str, value: str) -> None:
    Select(driver.find_element(By.ID, control)).select_by_value(value)


def test_filters_change_what_is_shown(page: Any) -> None:
    assert "mmapcheck report" in page.title
    assert len(_shown(page)) == 14
    assert page.find_element(By.ID, "f-count").text == "14 of 14 entries shown"
    _choose(page, "f-verdict", "refuted")
    assert _shown(page) == ["doc-a.refuted"]
    _choose(page, "f-verdict", "")
    _choose(page, "f-document", "doc-b")
    assert {i.split(".")[0] for i in _shown(page)} == {"doc-b"} and len(_shown(page)) == 7
    assert not page.find_element(By.CSS_SELECTOR, "section[data-group='doc-a']").is_displayed()
    _choose(page, "f-document", "")
    _choose(page, "f-layer", "pymmap")
    assert not any(i.startswith(("fault.", "model.")) for i in _shown(page))
    _choose(page, "f-layer", "")
    page.find_element(By.ID, "f-text").send_keys("SIGBUS")
    assert _shown(page) == ["doc-a.refuted", "fault.breaks"]  # evidence text counts too


def test_evidence_shows_on_demand(page: Any) -> None:
    row = page.find_element(By.ID, "e-doc-a.refuted")
    evidence = row.find_element(By.CSS_SELECTOR, "ul.evidence")
    assert not evidence.is_displayed()
    row.find_element(By.TAG_NAME, "summary").click()
    assert evidence.is_displayed() and "SIGBUS" in evidence.text


def _unfilter(kind: int, row: bytearray, previous: bytearray, step: int) -> bytearray:
    """Return a PNG scanline with its filter (none, sub, up, average, Paeth) undone."""
    for x in range(len(row)):
        left = row[x - step] if x >= step else 0
        up, corner = previous[x], previous[x - step] if x >= step else 0
        if kind == 1:
            row[x] = (row[x] + left) & 0xFF
        elif kind == 2:
            row[x] = (row[x] + up) & 0xFF
        elif kind == 3:
            row[x] = (row[x] + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
                       (abs(guess - corner), 2, corner))
            row[x] = (row[x] + near[2]) & 0xFF
    return row


def _pixels(png: bytes) -> Counter[bytes]:
    """Return how often each colour occurs in an 8-bit RGB or RGBA, non-interlaced PNG.

    Decoded with zlib and the PNG row filters, so the check needs no imaging library.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, list[bytes]] = {}
    offset = 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        chunks.setdefault(kind, []).append(png[offset + 8:offset + 8 + length])
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG layout"
    step = 4 if colour == 6 else 3
    data, stride = zlib.decompress(b"".join(chunks[b"IDAT"])), width * step
    previous, counts = bytearray(stride), Counter[bytes]()
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(data[start], bytearray(data[start + 1:start + 1 + stride]), previous, step)
        counts.update(bytes(row[i:i + 3]) for i in range(0, stride, step))
        previous = row
    return counts


def _png(width: int, rows: list[bytes]) -> bytes:
    """Return an RGB PNG of ``rows`` (each ``width`` pixels, each row with its filter byte)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def test_the_decoder_sees_a_blank_image_as_one_colour() -> None:
    blank = _png(4, [b"\x00" + b"\xff" * 12, b"\x02" + b"\x00" * 12])  # second row: "up"
    assert _pixels(blank) == Counter({b"\xff\xff\xff": 8})
    sub = _png(2, [b"\x01" + bytes([10, 20, 30, 5, 5, 5])])  # "sub": second pixel adds the first
    assert _pixels(sub) == Counter({bytes([10, 20, 30]): 1, bytes([15, 25, 35]): 1})


def test_the_page_is_not_blank(page: Any) -> None:
    counts = _pixels(page.get_screenshot_as_png())
    total = sum(counts.values())
    (background, most), = counts.most_common(1)
    assert background == b"\xff\xff\xff", "the page background is white"
    assert len(counts) > 16, f"only {len(counts)} colours: the page looks blank"
    assert most < 0.97 * total, "one colour covers almost everything"
