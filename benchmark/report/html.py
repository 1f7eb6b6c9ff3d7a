"""``report.html``: the report as one self-contained page to share by e-mail or chat.

The page is ``report.md`` rendered by markdown-it-py (CommonMark and tables) with raw HTML,
links and autolinks switched off, so review text stays text exactly as in the Markdown; the
plots are inlined as PNG data URIs (only the run's own PNG files); the styles are in the
page; there are no scripts, fonts or images from anywhere, and a Content-Security-Policy
forbids them should any slip in. The same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

#: What the page may load: nothing but its own inline styles and data-URI images.
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
#: A plot the report names: a PNG file in the run folder itself.
_OWN_PNG = re.compile(r"[\w.-]+\.png")

_STYLE = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1f2328;
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem; }
p, li, h1, h2, h3, blockquote { overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; line-height: 1.25; } h2 { font-size: 1.3rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.1rem; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; white-space: nowrap; }
img { max-width: 100%; height: auto; }
code { background: #f6f8fa; padding: 0.1rem 0.25rem; border-radius: 4px; font-size: 0.9em; }
blockquote { margin: 0; padding: 0 1rem; border-left: 4px solid #d0d7de; color: #59636e; }
"""


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    # Nothing in a report links anywhere; review text is shown with md_literal, which escapes
    # the brackets, so this only guards against a mistake.
    md.disable(["link", "autolink"])
    return md


def render_html(markdown_text: str, run_dir: Path, title: str) -> str:
    """The page of ``markdown_text`` (a run's report.md), its images read from ``run_dir``."""
    md = _markdown()

    def image(renderer, tokens, idx, options, env):
        token = tokens[idx]
        src, alt = str(token.attrGet("src") or ""), html.escape(token.content, quote=True)
        path = Path(run_dir) / src
        if not _OWN_PNG.fullmatch(src) or not path.is_file():
            return f"[{alt}]"  # not one of the run's own plots: not shown
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{alt}">'

    def table_open(renderer, tokens, idx, options, env):
        return '<div class="table"><table>\n'

    def table_close(renderer, tokens, idx, options, env):
        return "</table></div>\n"

    md.add_render_rule("image", image)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    body = md.render(markdown_text)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
