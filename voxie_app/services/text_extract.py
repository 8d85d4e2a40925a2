"""Text out of knowledge-base uploads: `.txt`, `.md`, `.html` and `.pdf`.

Two steps with different failure modes:

- `sniff(media_type, data)` runs while the upload is being accepted: cheap
  checks that the bytes are what the name says (a PDF starts with `%PDF-`, a
  text file decodes and has no NUL bytes). A failure here rejects the upload
  (HTTP 415) and nothing is stored.
- `extract(media_type, data, max_chars=...)` runs during ingestion and may be
  slow (PDF); a failure marks the document `failed` with the reason. It stops
  as soon as the text passes `max_chars` (or the PDF has more than
  `max_pages` pages), so a small file cannot expand into huge text first.
- `extract_isolated(...)` is what ingestion calls: PDFs are read in a child
  process with a time limit, a CPU limit and a memory limit (see below).

Why a child process for PDFs: pypdf is pure Python. A 31 KB PDF whose 200
pages share one content stream expands to millions of characters and many
seconds of CPU, holding the GIL, so in a thread of the web process it slows
every request, and a thread cannot be stopped. A child process can be killed
at the time limit and is capped by `RLIMIT_CPU` / `RLIMIT_AS`, and it runs at
a lower priority. It is a fresh interpreter per PDF (this file run as a
script, importing only the standard library and pypdf: about 0.1 s to start),
not a pool, because killing a pool's worker breaks the pool. Text and HTML are
linear in the upload's size (at most VOXIE_MAX_UPLOAD_BYTES) and stay in process.

HTML uses the standard library's `html.parser` (scripts and styles dropped,
headings kept as `#` lines); PDF uses `pypdf` (pure Python).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import subprocess
import sys
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
PDF_MEMORY_BYTES = 1024 * 2**20  # address space of the child process reading a PDF

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


def too_much_text(max_chars: int) -> ExtractionFailed:
    return ExtractionFailed(
        f"it holds more than {max_chars:,} characters of text; the limit is {max_chars:,}"
    )


def extract(
    media_type: str,
    data: bytes,
    *,
    max_chars: int | None = None,
    max_pages: int = MAX_PDF_PAGES,
) -> str:
    """The document's text, normalised. Raises `ExtractionFailed` with a reason,
    as soon as the text passes `max_chars` (None: no cap) or a PDF has more than
    `max_pages` pages."""
    try:
        if media_type == "application/pdf":
            text = _pdf_text(data, max_chars=max_chars, max_pages=max_pages)
        elif media_type == "text/html":
            text = html_text(decode_text(data))
        elif media_type in TEXT_TYPES:
            text = decode_text(data)
        else:
            raise ExtractionFailed(f"unsupported type {media_type}")
    except NotThatKind as exc:
        raise ExtractionFailed(str(exc)) from exc
    text = normalize(text)
    if max_chars is not None and len(text) > max_chars:
        raise too_much_text(max_chars)
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


def _pdf_text(data: bytes, *, max_chars: int | None, max_pages: int) -> str:
    """Page by page, stopping at the first page that takes the text past `max_chars`."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionFailed("the PDF is password-protected")
        pages = reader.pages
        if len(pages) > max_pages:
            raise ExtractionFailed(f"the PDF has more than {max_pages:,} pages")
        texts: list[str] = []
        total = 0
        for page in pages:
            texts.append(normalize(page.extract_text() or ""))  # as `extract` will count
            total += len(texts[-1]) + 2
            if max_chars is not None and total > max_chars + 2:
                raise too_much_text(max_chars)
        return "\n\n".join(texts)
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


# --------------------------------------------------------------- isolated PDF


def extract_isolated(
    media_type: str,
    data: bytes,
    *,
    max_chars: int,
    seconds: float,
    max_pages: int = MAX_PDF_PAGES,
    memory_bytes: int = PDF_MEMORY_BYTES,
) -> str:
    """`extract`, with PDFs read in a child process killed after `seconds` (module doc)."""
    if media_type != "application/pdf":
        return extract(media_type, data, max_chars=max_chars, max_pages=max_pages)
    limits = {"max_chars": max_chars, "max_pages": max_pages, "seconds": seconds}
    limits["memory_bytes"] = memory_bytes
    command = [sys.executable, "-I", os.path.abspath(__file__), json.dumps(limits)]
    too_slow = ExtractionFailed(f"reading the PDF took longer than {seconds:g} s (the limit)")
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=seconds)
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        raise too_slow from exc
    if done.returncode == -24:  # SIGXCPU: past RLIMIT_CPU
        raise too_slow
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or done.returncode != 0:
        raise ExtractionFailed(f"the PDF could not be read (the reader stopped: {done.returncode})")
    if "error" in answer:
        raise ExtractionFailed(str(answer["error"]))
    return str(answer["text"])


def _child(limits: dict) -> int:
    """In the child: limits on itself, then the text of the PDF on stdin, as JSON on stdout."""
    import resource

    cpu = int(limits["seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.nice(10)
    data = sys.stdin.buffer.read()
    try:
        text = extract(
            "application/pdf", data, max_chars=limits["max_chars"], max_pages=limits["max_pages"]
        )
        answer = {"text": text}
    except ExtractionFailed as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": f"reading the PDF needs more than {memory // 2**20} MB of memory"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":  # the child process of `extract_isolated`
    sys.exit(_child(json.loads(sys.argv[1])))
