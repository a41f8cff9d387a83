"""Fonts, colours, paragraph styles and the one text-escaping helper of the renderer.

Fonts: DejaVu Sans (regular and bold) ships in `invoice_render/fonts/` and is embedded (subset)
in every PDF, so Latin, Greek and Cyrillic text and the usual currency signs (€ £ ¥ ₹ ₩ ...)
render on any viewer. Characters DejaVu lacks (Chinese, Japanese kana and kanji, Korean Hangul)
are drawn in WenQuanYi Micro Hei, a TrueType CJK font installed with the project's dependencies
(the `paperang-p2-fonts-cjk` package); it is embedded (subset) as well, so no viewer needs a font
of its own. It has one weight: CJK text in bold styles is drawn regular.

Limitations:
- Half- and full-width compatibility forms (U+FF01-U+FFEE, e.g. the ja_JP yen sign "￥") are
  drawn as their NFKC equivalent ("¥") in DejaVu, so figures keep one look; text extracted
  from the PDF therefore shows "¥" where `format_money` returned "￥".
- Right-to-left scripts (Arabic, Hebrew) are neither shaped nor reordered by reportlab.
"""

import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR = "MeterhouseSans"
FONT_BOLD = "MeterhouseSans-Bold"
FONT_CJK = "MeterhouseCJK"

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
RULE = colors.HexColor("#CBD2D9")
HEADER_FILL = colors.HexColor("#F0F4F8")
DRAFT_RED = colors.HexColor("#C62828")
WATERMARK = colors.HexColor("#F3D4D4")

MARGIN = 16 * mm
FRAME_PADDING = 6  # reportlab Frame's default padding on each side
FOOTER_Y = 9 * mm

# Letter where it is the paper standard; A4 everywhere else.
_LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE"})

_register_lock = threading.Lock()
_registered = False
_regular_cmap: frozenset[int] = frozenset()
_cjk_cmap: frozenset[int] = frozenset()
# Characters DejaVu draws as they are: in its cmap and not control characters (see _font_runs).
_plain_chars: frozenset[str] = frozenset()


def cjk_font_path() -> Path:
    """The CJK TrueType collection installed with the project's dependencies."""
    import paperang_p2_fonts_cjk  # a font-only package: wqy-microhei.ttc and nothing else

    return Path(paperang_p2_fonts_cjk.__file__).resolve().parent / "fonts" / "wqy-microhei.ttc"


def register_fonts() -> None:
    """Register the shipped fonts with reportlab once per process (idempotent, thread-safe)."""
    global _registered, _regular_cmap, _cjk_cmap, _plain_chars
    with _register_lock:
        if _registered:
            return
        regular = TTFont(FONT_REGULAR, str(FONT_DIR / "DejaVuSans.ttf"))
        bold = TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        for font in (regular, bold):
            _reuse_subsets(font)
            pdfmetrics.registerFont(font)
        pdfmetrics.registerFontFamily(
            FONT_REGULAR,
            normal=FONT_REGULAR,
            bold=FONT_BOLD,
            italic=FONT_REGULAR,
            boldItalic=FONT_BOLD,
        )
        cjk = TTFont(FONT_CJK, str(cjk_font_path()), subfontIndex=0)
        _reuse_subsets(cjk)
        pdfmetrics.registerFont(cjk)
        # One weight: bold CJK in a Paragraph must map to the same face, not to Helvetica.
        pdfmetrics.registerFontFamily(
            FONT_CJK, normal=FONT_CJK, bold=FONT_CJK, italic=FONT_CJK, boldItalic=FONT_CJK
        )
        # The faces differ only in rare symbols (math alphanumerics), so the regular cmap
        # decides which characters need the CJK fallback for both.
        _regular_cmap = frozenset(regular.face.charToGlyph)
        _cjk_cmap = frozenset(cjk.face.charToGlyph)
        _plain_chars = frozenset(
            chr(code) for code in _regular_cmap if unicodedata.category(chr(code)) != "Cc"
        )
        _registered = True


class _CachedFlate(pdfdoc.PDFStreamFilterZCompress):
    """reportlab's FlateDecode filter, remembering the compressed form of recent font files."""

    @lru_cache(maxsize=256)  # noqa: B019 - one instance for the process, never collected
    def encode(self, text: bytes) -> bytes:
        return super().encode(text)


_CACHED_FLATE = _CachedFlate()


def _reuse_subsets(font: TTFont) -> None:
    """Build and compress each embedded subset of `font` once per process, not once per PDF.

    A PDF embeds the subsets of a font it uses (256 characters each, in first-use order), and
    documents of one language share a few dozen distinct subsets: building one (reportlab's
    makeSubset) and compressing it were about 15% of a PDF's CPU time. The cache returns the
    same bytes reportlab would compute: makeSubset depends on the face and the subset only, and
    the compression is the same zlib call (reportlab's filter, cached).
    """
    face = font.face
    make_subset = face.makeSubset
    add_subset_objects = face.addSubsetObjects

    @lru_cache(maxsize=256)
    def cached_subset(subset: tuple[int, ...]) -> bytes:
        return make_subset(list(subset))

    def reused_subset(subset: list[int]) -> bytes:
        return cached_subset(tuple(subset))

    def add_cached_subset_objects(doc: pdfdoc.PDFDocument, fontname: str, subset: list[int]) -> Any:
        # Unannotated in the stubs; returns the font's PDF reference.
        reference = add_subset_objects(doc, fontname, subset)  # type: ignore[no-untyped-call]
        # reportlab names the font file object so; a name it no longer uses only loses the cache.
        # A PDFStream (the stubs type the table as the base PDFObject, without filters).
        font_file: Any = doc.idToObject.get(f"fontFile:{face.filename}({fontname})")
        if font_file is not None and font_file.filters == [pdfdoc.PDFZCompress]:
            font_file.filters = [_CACHED_FLATE]
        return reference

    # Replacing the face's bound methods is the point (one face per process, see above).
    face.makeSubset = reused_subset  # type: ignore[method-assign,assignment]
    face.addSubsetObjects = add_cached_subset_objects  # type: ignore[method-assign]


# Longest text a Paragraph shows; a longer one is cut and ends with "…" (the warehouse keeps it
# whole). Texts come from landing files (customer fields, pricing-group values of events in line
# descriptions, credit note reasons): reportlab took 18 s for one 100,000-character description
# and far longer for a 1 MB one, stalling the month's finalization.
MAX_PARAGRAPH_CHARS = 1000


def safe_markup(text: str | None) -> str:
    """Turn untrusted text into Paragraph markup that renders literally.

    This is the only place text enters a Paragraph. It escapes `& < >` (so `<font size=40>` or
    `<img src=...>` print as text), blanks control characters, maps compatibility forms the
    embedded font lacks to their NFKC equivalent, wraps CJK runs in the CJK fallback font, and
    cuts text longer than MAX_PARAGRAPH_CHARS.
    """
    if text and len(text) > MAX_PARAGRAPH_CHARS:
        text = text[: MAX_PARAGRAPH_CHARS - 1] + "…"
    return "".join(
        escape(run) if font is None else f'<font name="{font}">{escape(run)}</font>'
        for font, run in _font_runs(text)
    )


def para(text: str | None, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of literal (escaped) text."""
    return _Paragraph(safe_markup(text), style)


def para_lines(lines: Iterable[str | None], style: ParagraphStyle) -> Paragraph:
    """One Paragraph showing each non-empty text on its own line, every one escaped."""
    return _Paragraph("<br/>".join(safe_markup(line) for line in lines if line), style)


class _Paragraph(Paragraph):
    """A Paragraph that parses its markup once per process and lays itself out once per width.

    Same fragments, same line breaks, so the same bytes as a Paragraph; only repeated work goes:
    reportlab parses every Paragraph's markup with an HTML parser although labels, dates and
    amounts recur in every document, and a table wraps each cell two or three times at one width
    (to size the row, then again to draw it).
    """

    _wrapped_at: float | None = None

    def _setup(  # reportlab's signature
        self,
        text: str,
        style: ParagraphStyle,
        bulletText: str | None,
        frags: list[Any] | None,
        cleaner: Callable[[str], str] | None,
    ) -> None:
        if frags is not None or bulletText is not None:  # split halves arrive parsed
            # A private method the type stubs leave out.
            super()._setup(text, style, bulletText, frags, cleaner)  # type: ignore[misc]
            return
        parsed_text, parsed_style, parsed_frags, parsed_bullet = _parsed(text, style)
        self.text = parsed_text
        # Fresh fragments: layout may set attributes on them; the cached ones stay pristine.
        self.frags = [frag.clone() for frag in parsed_frags]
        self.style = parsed_style
        self.bulletText = parsed_bullet
        self.debug = 0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        # The layout depends on the width only (the height is not read), so a second call at the
        # same width returns what the first computed, lines included (self.blPara; a failed
        # split deletes it, and then the layout is computed again).
        if availWidth == self._wrapped_at and "blPara" in self.__dict__:
            return self.width, self.height
        self._wrapped_at = None
        width, height = super().wrap(availWidth, availHeight)
        if height != 0x7FFFFFFF:  # "cannot fit here" sets no layout to reuse
            self._wrapped_at = availWidth
        return width, height


@lru_cache(maxsize=8192)
def _parsed(
    markup: str, style: ParagraphStyle
) -> tuple[str, ParagraphStyle, tuple[Any, ...], str | None]:
    """What reportlab's Paragraph makes of `markup` in `style` (styles are process-wide)."""
    paragraph = Paragraph(markup, style)
    return paragraph.text, paragraph.style, tuple(paragraph.frags), paragraph.bulletText


def text_width(text: str, font_name: str, font_size: float) -> float:
    """Width in points of `text` on one line, as `safe_markup` or `Figure` would draw it."""
    return sum(
        pdfmetrics.stringWidth(run, font or font_name, font_size) for font, run in _font_runs(text)
    )


class Figure(Flowable):
    """One line of literal text that never wraps: amounts, quantities, unit prices.

    Paragraph would break "12 345,00 €" at U+202F (fr_FR's group separator, which reportlab
    treats as a break opportunity) and redraw it as a plain space. This draws the string as is,
    aligned like its style, and shrinks it only if it cannot fit its cell at all.
    """

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self._runs = _font_runs(text)
        self._natural = text_width(text, style.fontName, style.fontSize)
        self._avail = 0.0

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self._avail = avail_width
        return avail_width, self.style.leading

    def draw(self) -> None:
        style = self.style
        scale = min(1.0, self._avail / self._natural) if self._natural else 1.0
        size = style.fontSize * scale
        x = self._avail - self._natural * scale if style.alignment == TA_RIGHT else 0.0
        # Same first baseline as a one-line Paragraph of this style.
        y = style.leading - style.fontSize
        self.canv.setFillColor(style.textColor)
        for font, run in self._runs:
            font_name = font or style.fontName
            self.canv.setFont(font_name, size)
            self.canv.drawString(x, y, run)
            x += pdfmetrics.stringWidth(run, font_name, size)


def page_size_for(locale: str) -> tuple[float, float]:
    """US Letter for locales of Letter countries ("en_US", "fr_CA"), A4 otherwise."""
    territory = locale.replace("-", "_").rpartition("_")[2].upper()
    return LETTER if territory in _LETTER_TERRITORIES else A4


def _printable_chars(text: str) -> Iterator[str]:
    for char in text:
        if unicodedata.category(char) == "Cc":
            # Newlines and tabs collapse to spaces in a Paragraph anyway; other control
            # characters have no glyph and could upset PDF viewers.
            yield " "
        elif ord(char) not in _regular_cmap and 0xFF01 <= ord(char) <= 0xFFEE:
            mapped = unicodedata.normalize("NFKC", char)
            yield mapped if all(ord(c) in _regular_cmap for c in mapped) else char
        else:
            yield char


def _font_runs(text: str | None) -> tuple[tuple[str | None, str], ...]:
    """Split text into (font, run) pairs; font None means the style's own (DejaVu) font."""
    register_fonts()
    if not text:
        return ()
    return _cached_font_runs(text)


@lru_cache(maxsize=8192)
def _cached_font_runs(text: str) -> tuple[tuple[str | None, str], ...]:
    # Cached: labels, dates and amounts recur in every document. Text DejaVu draws whole (most
    # text) is one run as it is; the rest goes character by character.
    if _plain_chars.issuperset(text):
        return ((None, text),)
    return tuple(
        (FONT_CJK if is_cjk else None, "".join(run))
        for is_cjk, run in groupby(_printable_chars(text), key=_needs_cjk_font)
    )


def _needs_cjk_font(char: str) -> bool:
    code = ord(char)
    return code not in _regular_cmap and code in _cjk_cmap


def _style(name: str, **kwargs: object) -> ParagraphStyle:
    base: dict[str, object] = {
        "fontName": FONT_REGULAR,
        "fontSize": 8.5,
        "leading": 11,
        "textColor": INK,
        "alignment": TA_LEFT,
    }
    base.update(kwargs)
    return ParagraphStyle(name, **base)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def shared_styles() -> "Styles":
    """The process-wide Styles: nothing changes a style once made, and parsed markup is cached
    per style object (`_parsed`)."""
    return Styles()


class Styles:
    """The paragraph styles of one invoice."""

    def __init__(self) -> None:
        register_fonts()
        self.body = _style("body")
        self.section = _style(
            "section", fontName=FONT_BOLD, fontSize=7.5, leading=10, textColor=MUTED
        )
        self.party_name = _style("party_name", fontName=FONT_BOLD, fontSize=10, leading=13)
        self.seller_name = _style("seller_name", fontName=FONT_BOLD, fontSize=13, leading=16)
        self.title = _style(
            "title", fontName=FONT_BOLD, fontSize=20, leading=24, alignment=TA_RIGHT
        )
        self.draft_badge = _style(
            "draft_badge",
            fontName=FONT_BOLD,
            fontSize=10,
            leading=13,
            textColor=DRAFT_RED,
            alignment=TA_RIGHT,
        )
        self.meta_label = _style("meta_label", textColor=MUTED, alignment=TA_RIGHT)
        self.meta_value = _style("meta_value", fontName=FONT_BOLD, alignment=TA_RIGHT)
        self.table_header = _style(
            "table_header", fontName=FONT_BOLD, fontSize=7.5, leading=9.5, textColor=MUTED
        )
        self.table_header_right = _style(
            "table_header_right",
            fontName=FONT_BOLD,
            fontSize=7.5,
            leading=9.5,
            textColor=MUTED,
            alignment=TA_RIGHT,
        )
        self.cell = _style("cell")
        self.cell_right = _style("cell_right", alignment=TA_RIGHT)
        self.cell_muted = _style("cell_muted", fontSize=7.5, leading=9.5, textColor=MUTED)
        self.group_title = _style("group_title", fontName=FONT_BOLD, fontSize=8.5, leading=11)
        self.tier_text = _style(
            "tier_text", fontSize=7.5, leading=9.5, textColor=MUTED, leftIndent=10
        )
        self.tier_figure = _style(
            "tier_figure", fontSize=7.5, leading=9.5, textColor=MUTED, alignment=TA_RIGHT
        )
        self.total_label = _style("total_label", alignment=TA_RIGHT)
        self.total_value = _style("total_value", alignment=TA_RIGHT)
        self.grand_label = _style(
            "grand_label", fontName=FONT_BOLD, fontSize=11, leading=14, alignment=TA_RIGHT
        )
        self.grand_value = _style(
            "grand_value", fontName=FONT_BOLD, fontSize=11, leading=14, alignment=TA_RIGHT
        )
        self.footer = _style("footer", fontSize=7, leading=9, textColor=MUTED)
        self.footer_right = _style(
            "footer_right", fontSize=7, leading=9, textColor=MUTED, alignment=TA_RIGHT
        )
        self.due_label = _style("due_label", textColor=MUTED, alignment=TA_RIGHT)
        self.due_value = _style(
            "due_value", fontName=FONT_BOLD, fontSize=16, leading=20, alignment=TA_RIGHT
        )
