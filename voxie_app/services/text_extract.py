"""Text out of knowledge-base uploads: `.txt`, `.md`, `.html` and `.pdf`.

Two steps with different failure modes:

- `sniff(media_type, data)` runs while the upload is being accepted: cheap
  checks that the bytes are what the name says (a PDF starts with `%PDF-`, a
  text file decodes and has no NUL bytes). A failure here rejects the upload
  (HTTP 415) and nothing is stored.
- `extract(media_type, data)` runs during ingestion and may be slow (PDF); a
  failure marks the document `failed` with the reason.

HTML uses the standard library's `html.parser` (scripts and styles dropped,
headings kept as `#` lines); PDF uses `pypdf` (pure Python).
"""

from __future__ import annotations

import codecs
import io
import re
from html.parser import HTMLParser

# Extension -> media type: the only kinds of file the knowledge base accepts.
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
TEXT_TYPES = ("text/plain", "text/markdown", "text/html")
MAX_PDF_PAGES = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\x7fELF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff")


class NotThatKind(ValueError):
    """The bytes are not the kind of file the name says (HTTP 415)."""


class ExtractionFailed(ValueError):
    """No usable text could be read; the message is shown to the user."""


def media_type_for(name: str) -> str | None:
    """The media type for a file name's extension, or None when not accepted."""
    dot = name.rfind(".")
    return MEDIA_TYPES.get(name[dot:].lower()) if dot >= 0 else None


def sniff(media_type: str, data: bytes) -> None:
    """Raise `NotThatKind` when `data` obviously is not `media_type`."""
    if media_type == "application/pdf":
        if b"%PDF-" not in data[:1024]:
            raise NotThatKind("the file is not a PDF (it does not start with %PDF-)")
        return
    if data.startswith(_BINARY_MAGIC):
        raise NotThatKind("the file is binary, not text")
    decode_text(data)


def decode_text(data: bytes) -> str:
    """Bytes of a text file as str: UTF-8 (with or without BOM) or UTF-16 with a BOM,
    else Windows-1252. Raises `NotThatKind` for binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise NotThatKind("the file is not valid UTF-16 text") from exc
    if b"\x00" in data:
        raise NotThatKind("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        raise NotThatKind("the file is not text in a known encoding (use UTF-8)")
    return text


def extract(media_type: str, data: bytes) -> str:
    """The document's text, normalised. Raises `ExtractionFailed` with a reason."""
    try:
        if media_type == "application/pdf":
            text = _pdf_text(data)
        elif media_type == "text/html":
            text = html_text(decode_text(data))
        elif media_type in TEXT_TYPES:
            text = decode_text(data)
        else:
            raise ExtractionFailed(f"unsupported type {media_type}")
    except NotThatKind as exc:
        raise ExtractionFailed(str(exc)) from exc
    text = normalize(text)
    if not text:
        hint = " (scanned PDFs without a text layer are not supported)"
        hint = hint if media_type == "application/pdf" else ""
        raise ExtractionFailed("no text found" + hint)
    return text


def normalize(text: str) -> str:
    """One newline style, no control characters, single spaces, at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionFailed("the PDF is password-protected")
        pages = reader.pages
        if len(pages) > MAX_PDF_PAGES:
            raise ExtractionFailed(f"the PDF has more than {MAX_PDF_PAGES} pages")
        return "\n\n".join((page.extract_text() or "") for page in pages)
    except ExtractionFailed:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise ExtractionFailed(f"the PDF could not be read ({exc.__class__.__name__})") from exc


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, with line breaks where the blocks are."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
    BLOCK = frozenset(
        {
            "p", "div", "section", "article", "main", "header", "footer", "aside", "nav",
            "ul", "ol", "dl", "dt", "dd", "table", "tr", "blockquote", "pre", "form",
            "fieldset", "address", "figure", "figcaption", "hr", "br", "body", "html",
        }
    )  # fmt: skip
    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.HEADINGS:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.HEADINGS:
            self.parts.append("\n\n")
        elif tag in self.BLOCK or tag == "li":
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(data.replace("\n", " "))


def html_text(html: str) -> str:
    """Readable text of an HTML document (title first, then the body's text)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    body = "".join(parser.parts)
    title = " ".join("".join(parser.title).split())
    lines = [line.strip(" |") if "|" in line else line for line in body.split("\n")]
    text = "\n".join(lines)
    return f"# {title}\n\n{text}" if title and title not in text[:500] else text
