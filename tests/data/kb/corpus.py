"""The made-up company corpus of the knowledge-base tests (Alder & Finch Cycles).

Six documents in every accepted form: Markdown, HTML, plain text, a PDF built
here at test time from `warranty-and-returns.pdf-source.txt` (a real PDF with
a Helvetica text layer over two pages, read back by `pypdf`), and pasted text.
`questions.json` holds question -> expected-passage pairs: a hit is a top-3
passage of the right document that contains the expected words.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

FILES = (
    "faq.md",
    "services-and-prices.html",
    "rentals-and-tours.txt",
    "warranty-and-returns.pdf",
    "shipping-and-online-orders.md",
)
PASTED = ("contact-and-holidays.txt",)


@dataclass(frozen=True)
class Question:
    q: str
    doc: str
    expect: str


def questions() -> list[Question]:
    return [Question(**item) for item in json.loads((HERE / "questions.json").read_text())]


def file_bytes(name: str) -> bytes:
    """A corpus file's bytes (the PDF is generated)."""
    if name.endswith(".pdf"):
        return make_pdf((HERE / f"{name}-source.txt").read_text(), lines_per_page=24)
    return (HERE / name).read_bytes()


def pasted_text(name: str) -> str:
    return (HERE / "pasted" / name).read_text()


def squash(text: str) -> str:
    """Whitespace-insensitive form for comparing passages with expectations."""
    return " ".join(text.split())


def _pdf_string(line: str) -> str:
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


def make_pdf(text: str, *, lines_per_page: int = 45, width: int = 88) -> bytes:
    """A minimal but real PDF 1.4 with `text` as its text layer (Helvetica, Letter pages)."""
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        lines.extend(textwrap.wrap(" ".join(paragraph.split()), width) or [""])
        lines.append("")
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for page_lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        for line in page_lines:
            ops.append(f"{_pdf_string(line)} Tj T*" if line else "T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)
