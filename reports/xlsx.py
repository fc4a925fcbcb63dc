# ruff: noqa: E501 - the OOXML package templates below are kept one element per line
"""A minimal streaming XLSX writer: each sheet's XML goes straight into the zip entry.

openpyxl's write-only mode keeps every distinct string in an in-memory shared-strings table
(1M unique descriptions: hundreds of MB) and styles each date cell one by one; here strings are
inline, dates are numbers with one shared date style, and memory does not grow with the row
count. Files open in Excel, LibreOffice and openpyxl (the tests read them back with it).
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from xml.sax.saxutils import escape

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

EPOCH = datetime(1899, 12, 30)

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
{sheets}</Types>"""
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\n'
)
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets>{sheets}</sheets>{names}</workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
{rels}<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="4">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
# The header row stays in view while scrolling (frozen pane below row 1).
SHEET_VIEWS = (
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews>"
)
# Column widths are guessed from the header and the first rows (the file is streamed).
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 8, 60


def text_width(v) -> float:
    """Excel character widths of a value as shown: CJK and full-width characters count two."""
    if v is None:
        return 0
    if isinstance(v, datetime):
        return 19
    if isinstance(v, date):
        return 10
    text = str(v)
    return max(
        (sum(2 if ord(ch) > 0x2E7F else 1 for ch in line) for line in text.splitlines()),
        default=0,
    )


def column_widths(headers: list, rows: list[list]) -> list[float]:
    widths = []
    for i, h in enumerate(headers):
        # The header has the autofilter's drop-down button beside it (about 3 characters).
        w = max([text_width(h) + 3, *(text_width(r[i]) for r in rows if i < len(r))])
        widths.append(min(max(w + 1, MIN_WIDTH), MAX_WIDTH))
    return widths


def _text(v: str) -> str:
    if ILLEGAL_CHARACTERS_RE.search(v):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
    return escape(v)


class XlsxWriter:
    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self.titles: list[str] = []
        self.filters: list[tuple[str, int]] = []  # each sheet's last column and last row

    def add_sheet(self, title: str, headers: list[str], rows: Iterable[list]) -> int:
        """Write one sheet (bold header row, frozen, with an autofilter; columns as wide as
        their header and first rows); returns the number of data rows."""
        n = len(self.titles) + 1
        self.titles.append(title[:31])
        cols = [get_column_letter(i + 1) for i in range(max(len(headers), 1) + 64)]
        rows = iter(rows)
        sample = list(itertools.islice(rows, WIDTH_SAMPLE_ROWS))
        rows = itertools.chain(sample, rows)
        widths = column_widths(headers, sample)
        count = 0
        with self.zip.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as fh:
            buf = [SHEET_HEAD, SHEET_VIEWS]
            if widths:
                buf.append("<cols>")
                buf.extend(
                    f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
                    for i, w in enumerate(widths, start=1)
                )
                buf.append("</cols>")
            buf.append('<sheetData><row r="1">')
            for c, h in zip(cols, headers, strict=False):
                buf.append(f'<c r="{c}1" t="inlineStr" s="2"><is><t>{_text(str(h))}</t></is></c>')
            buf.append("</row>")
            r = 1
            for row in rows:
                r += 1
                buf.append(f'<row r="{r}">')
                for c, v in zip(cols, row, strict=False):
                    if v is None or v == "":
                        continue
                    if isinstance(v, str):
                        buf.append(
                            f'<c r="{c}{r}" t="inlineStr"><is><t xml:space="preserve">'
                            f"{_text(v)}</t></is></c>"
                        )
                    elif isinstance(v, bool):
                        buf.append(f'<c r="{c}{r}" t="b"><v>{int(v)}</v></c>')
                    elif isinstance(v, int | float):
                        buf.append(f'<c r="{c}{r}"><v>{v!r}</v></c>')
                    elif isinstance(v, datetime):
                        serial = (v.replace(tzinfo=None) - EPOCH).total_seconds() / 86400
                        buf.append(f'<c r="{c}{r}" s="1"><v>{serial!r}</v></c>')
                    elif isinstance(v, date):
                        serial = (datetime(v.year, v.month, v.day) - EPOCH).days
                        buf.append(f'<c r="{c}{r}" s="3"><v>{serial}</v></c>')
                    else:
                        buf.append(
                            f'<c r="{c}{r}" t="inlineStr"><is><t>{_text(str(v))}</t></is></c>'
                        )
                buf.append("</row>")
                count += 1
                if len(buf) > 20000:
                    fh.write("".join(buf).encode("utf-8"))
                    buf.clear()
            buf.append("</sheetData>")
            last = cols[max(len(headers), 1) - 1]
            self.filters.append((last, count + 1))
            buf.append(f'<autoFilter ref="A1:{last}{count + 1}"/></worksheet>')
            fh.write("".join(buf).encode("utf-8"))
        return count

    def _filter_names(self) -> str:
        """Excel's hidden name for each sheet's autofilter range (it adds one if missing)."""
        if not self.filters:
            return ""
        names = []
        for i, (title, (col, row)) in enumerate(zip(self.titles, self.filters, strict=True)):
            sheet = "'" + title.replace("'", "''") + "'"
            names.append(
                f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                f"{escape(sheet)}!$A$1:${col}${row}</definedName>"
            )
        return "<definedNames>" + "".join(names) + "</definedNames>"

    def close(self) -> None:
        n = len(self.titles)
        z = self.zip
        z.writestr(
            "[Content_Types].xml",
            CONTENT_TYPES.format(sheets="".join(SHEET_TYPE.format(n=i + 1) for i in range(n))),
        )
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr(
            "xl/workbook.xml",
            WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{escape(t, {chr(34): "&quot;"})}" sheetId="{i + 1}" '
                    f'r:id="rId{i + 1}"/>'
                    for i, t in enumerate(self.titles)
                ),
                names=self._filter_names(),
            ),
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            WORKBOOK_RELS.format(
                rels="".join(
                    f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/'
                    f'officeDocument/2006/relationships/worksheet" '
                    f'Target="worksheets/sheet{i + 1}.xml"/>\n'
                    for i in range(n)
                )
            ),
        )
        z.writestr("xl/styles.xml", STYLES)
        z.close()
