"""Render a report's PDF pages to PNG, to look at them the way a reader does and to make
the README's picture of the example report's first page:

    pip install -e ".[docs]"
    python scripts/pdf_pages.py reports/main-job.pdf --pages 1 --out reports/main-job-page1.png
    python scripts/pdf_pages.py reports/verdict-mnist5k.pdf --out /tmp/pages   # every page

With one page and ``--out`` ending in ``.png`` the page is written there; otherwise
``--out`` is a folder that gets ``page<N>.png`` per page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pages", default="", help="comma list of 1-based pages (default all)")
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()
    try:
        import pymupdf
    except ImportError:
        print('pymupdf is missing: pip install -e ".[docs]"', file=sys.stderr)
        return 2
    if not args.pdf.is_file():
        print(f"{args.pdf}: no such file", file=sys.stderr)
        return 2
    doc = pymupdf.open(args.pdf)
    pages = [int(p) for p in args.pages.split(",") if p.strip()] or list(range(1, len(doc) + 1))
    bad = [p for p in pages if not 1 <= p <= len(doc)]
    if bad:
        print(f"pages {bad} out of range: the PDF has {len(doc)} pages", file=sys.stderr)
        return 2
    single = len(pages) == 1 and args.out.suffix == ".png"
    if not single:
        args.out.mkdir(parents=True, exist_ok=True)
    for p in pages:
        target = args.out if single else args.out / f"page{p}.png"
        doc[p - 1].get_pixmap(dpi=args.dpi).save(target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
