"""Writes the PDF fixtures: one with a text layer, one (like a scan) without. Run from this folder."""

from pathlib import Path


def pdf(content: bytes, info: bytes = b"") -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info or b"<< >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


text = (
    b"BT /F1 12 Tf 72 720 Td (The regional airport will add a second runway by 2028.) Tj"
    b" 0 -16 Td (The transport minister said the project will create 1,200 jobs.) Tj ET"
)
here = Path(__file__).parent
(here / "good" / "airport.pdf").write_bytes(
    pdf(text, b"<< /Title (Airport Gets Second Runway) /CreationDate (D:20240910090000Z) >>")
)
(here / "bad" / "scanned.pdf").write_bytes(pdf(b"0 0 1 rg 72 72 200 200 re f"))
whole = (here / "good" / "airport.pdf").read_bytes()
(here / "bad" / "truncated.pdf").write_bytes(whole[: len(whole) // 2])
