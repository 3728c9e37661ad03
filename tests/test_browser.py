"""The built book, opened in a real headless Chromium: math typeset by MathJax, figures shown, nothing fetched
from the network.

Needs the HTML (`make html`, or `make book` to execute the chapters first) and Chromium (`apt-get install
chromium`). Without them these tests skip, unless GANDENSITY_REQUIRE_BROWSER=1 (set by CI), where they fail.
A screenshot of the chapter is left in _build/screenshots/ for humans to look at.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHAPTER = HTML / "book" / "a1_exact_density.html"
INTRO = HTML / "book" / "intro.html"
SCREENSHOT = ROOT / "_build" / "screenshots" / "a1_exact_density.png"

PROFILES = ("smoke", "cpu", "paper")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Virtual time: Chromium fast-forwards timers, so a generous budget costs little wall time but lets MathJax
# load its components and fonts and typeset every formula before the DOM is dumped.
VIRTUAL_TIME_MS = 30_000
WALL_TIMEOUT_S = 180


def unavailable(reason: str) -> None:
    """Skip, or fail where CI demands the browser test (GANDENSITY_REQUIRE_BROWSER=1)."""
    if os.environ.get("GANDENSITY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (GANDENSITY_REQUIRE_BROWSER=1 makes this an error)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        unavailable("no headless Chromium (`chromium` or `chromium-browser` on PATH, or /usr/bin/chromium): "
                    "install it with `apt-get install chromium`")
    return binary


@pytest.fixture(scope="module")
def built() -> None:
    missing = [p for p in (CHAPTER, INTRO) if not p.is_file()]
    if missing:
        unavailable(f"the book is not built ({', '.join(str(p.relative_to(ROOT)) for p in missing)} missing): "
                    "run `make html` (or `make book` to execute the chapters first)")


def run_chromium(binary: str, page: Path, *args: str, window: str = "1280,2000") -> str:
    """Open `page` in headless Chromium with the network unreachable; return its stdout."""
    with tempfile.TemporaryDirectory(prefix="gandensity-chromium-") as profile:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--hide-scrollbars", "--mute-audio",
               # Every host name fails to resolve, so a page that needs the network shows it (no MathJax).
               "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={profile}", f"--window-size={window}",
               f"--virtual-time-budget={VIRTUAL_TIME_MS}", *args, page.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WALL_TIMEOUT_S,
                                  env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            pytest.fail(f"Chromium did not finish {page.name} within {WALL_TIMEOUT_S} s")
    assert proc.returncode == 0, f"Chromium failed on {page.name} (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


class DomIndex(HTMLParser):
    """Tags, attributes and code-literal texts of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.code_texts: list[str] = []
        self._code_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "code":
            self._code_depth += 1
            self.code_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code_depth:
            self._code_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._code_depth:
            self.code_texts[-1] += data

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for t, attrs in self.tags if t == tag]


def parse(dom: str) -> DomIndex:
    index = DomIndex()
    index.feed(dom)
    return index


@pytest.fixture(scope="module")
def chapter_dom(chromium: str, built: None) -> str:
    return run_chromium(chromium, CHAPTER, "--dump-dom")


@pytest.fixture(scope="module")
def intro_dom(chromium: str, built: None) -> str:
    return run_chromium(chromium, INTRO, "--dump-dom")


def static_math_count(page: Path) -> int:
    """Math elements Sphinx wrote into the page, before any JavaScript ran."""
    index = parse(page.read_text(encoding="utf-8"))
    return sum("math" in attrs.get("class", "").split() for _, attrs in index.tags)


def test_chapter_math_is_typeset_by_mathjax(chapter_dom: str):
    index = parse(chapter_dom)
    typeset = index.find("mjx-container")
    expected = static_math_count(CHAPTER)
    assert expected > 0, f"{CHAPTER.name} holds no math to typeset"
    assert typeset, "MathJax typeset nothing (no <mjx-container> in the rendered DOM): is MathJax bundled offline?"
    assert len(typeset) >= expected, f"MathJax typeset {len(typeset)} of {expected} formulas"
    errors = [t for t, attrs in index.tags
              if t in ("merror", "mjx-merror") or "data-mjx-error" in attrs]
    assert not errors, f"MathJax reported {len(errors)} error(s) in the chapter's math"


def resolves_to_image(src: str, page: Path) -> bool:
    """True for a data: URI holding an image, or a local non-empty PNG file (relative to the page, or file:)."""
    url = urlparse(src)
    if url.scheme == "data":
        header, _, payload = src.partition(",")
        if not header.startswith("data:image/") or not payload:
            return False
        if ";base64" not in header:
            return True
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return False
        return bool(data) and (not header.startswith("data:image/png") or data.startswith(PNG_MAGIC))
    if url.scheme == "file":
        path = Path(unquote(url.path))
    elif url.scheme or url.netloc or not url.path:
        return False
    else:
        path = page.parent / unquote(url.path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as f:
        return f.read(8) == PNG_MAGIC


def test_chapter_figures_are_present(chapter_dom: str):
    images = [attrs.get("src", "") for attrs in parse(chapter_dom).find("img")]
    shown = [src for src in images if resolves_to_image(src, CHAPTER)]
    assert len(shown) >= 2, (f"expected at least 2 figures that resolve to PNG files or data: images, found "
                             f"{len(shown)} of {len(images)} <img>: {images[:10]}")


def test_chapter_screenshot(chromium: str, built: None):
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    run_chromium(chromium, CHAPTER, f"--screenshot={SCREENSHOT}", window="1280,1600")
    assert SCREENSHOT.is_file(), f"Chromium wrote no screenshot to {SCREENSHOT}"
    data = SCREENSHOT.read_bytes()
    assert data.startswith(PNG_MAGIC), "the screenshot is not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1600), f"screenshot is {width}x{height}"
    assert len(data) > 20_000, f"the screenshot is only {len(data)} bytes: the page looks blank"
    from PIL import Image  # matplotlib's own dependency

    with Image.open(SCREENSHOT) as image:
        colours = image.convert("L").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 16, "the screenshot is (nearly) a single colour"


def test_intro_names_the_profiles(intro_dom: str):
    literals = {text.strip() for text in parse(intro_dom).code_texts}
    missing = [p for p in PROFILES if p not in literals]
    assert not missing, f"intro.html does not name the profile(s) {missing} as code literals"


def external_resources(dom: str) -> list[str]:
    """URLs in script/link/img/iframe/source elements that are neither relative nor file: nor data:."""
    index = parse(dom)
    found = []
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                      ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src")):
        for attrs in index.find(tag):
            url = attrs.get(attr)
            if not url:
                continue
            parsed = urlparse(url)
            if parsed.netloc or parsed.scheme not in ("", "file", "data"):
                found.append(f"<{tag} {attr}={url}>")
    return found


@pytest.mark.parametrize("page", ["chapter", "intro"])
def test_pages_load_nothing_from_the_network(page: str, request: pytest.FixtureRequest):
    dom = request.getfixturevalue(f"{page}_dom")
    assert "<html" in dom.lower()
    remote = external_resources(dom)
    assert not remote, f"the {page} page loads resources from the network: {remote}"


# The chapters, and the pages at the papers' scale (book/scale/<name>): the same code, other numbers.
CHAPTER_PAGES = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py")) + [
    f"scale/{p.stem}" for p in sorted((ROOT / "book" / "scale").glob("*.ipynb"))]
SCROLL_PROBE = """<script>
window.addEventListener("load", function () {
  var wide = [];
  document.querySelectorAll("div.cell pre, div.output pre").forEach(function (pre) {
    if (pre.scrollWidth > pre.clientWidth + 1) { wide.push(pre.textContent.split("\\n")[0].slice(0, 60)); }
  });
  document.body.setAttribute("data-wide-blocks", String(wide.length));
  document.body.setAttribute("data-wide-first", wide.length ? wide[0] : "");
});
</script>"""


# Chapters published with a printed line wider than the column (the chapter header's nested settings in
# A2-A4, long table-like prints and warnings in B1-B3): known, to be fixed at the next republish. strict: the
# test fails once one of them fits, so that the list only shrinks.
WIDE_KNOWN: set[str] = set()  # chapters published with known wide lines (strict xfails): none


@pytest.mark.parametrize("chapter", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="published with lines wider than the page"))
    if c in WIDE_KNOWN else c for c in CHAPTER_PAGES])
def test_no_code_cell_scrolls_sideways(chapter: str, chromium: str, built: None):
    page = HTML / "book" / f"{chapter}.html"
    if not page.is_file():
        unavailable(f"{page.relative_to(ROOT)} is not built: run `make html`")
    # A copy of the page beside it (so relative links still resolve) with a probe that measures every code
    # and output block after layout at the browser's window width.
    probe = page.with_name(f".scroll-probe-{page.stem}.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", SCROLL_PROBE + "</body>"),
                     encoding="utf-8")
    try:
        # 1600 px: a desktop window, where the theme's content column reaches its full width (786 px,
        # 88 columns of code); below ~1500 px the side bars narrow it and code wraps into a scroll bar.
        dom = run_chromium(chromium, probe, "--dump-dom", window="1600,1600")
    finally:
        probe.unlink(missing_ok=True)
    body = parse(dom).find("body")
    assert body and "data-wide-blocks" in body[0], "the probe did not run"
    assert body[0]["data-wide-blocks"] == "0", (
        f"{chapter}: {body[0]['data-wide-blocks']} code/output block(s) scroll sideways, the first starting "
        f"{body[0]['data-wide-first']!r}: keep code and printed lines within 88 characters")
