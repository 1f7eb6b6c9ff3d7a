"""Text that sentibench writes into Markdown: literal spans and plain sentences."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from dataset import md_literal, md_text

GFM = MarkdownIt("gfm-like").enable("linkify")  # bare URLs become links, as on GitHub


def test_an_ordinary_recommendation_sentence_reads_as_written():
    sentence = ("use bow: the most accurate (test accuracy 53.3%) and cheaper than w2v (+6.7 points, "
                "95% CI [-13.3, +30.0], McNemar p = 0.75).")
    assert md_text(sentence) == sentence


@pytest.mark.parametrize("crafted", [
    "![pixel](http://evil.example/p.png)", "[click](http://evil.example)", "<http://evil.example>",
    "<img src=x onerror=alert(1)>", "`code` *emphasis* __strong__", "[ref][x] [x]: http://evil.example",
    "&lt;b&gt; &#60;", "mail a@evil.example", "see www.evil.example now", "go to http://evil.example/x",
])
def test_a_crafted_sentence_renders_as_its_own_text(crafted):
    html = GFM.render(md_text(crafted))
    assert "<a " not in html and "<img" not in html and "<code>" not in html and "<em>" not in html
    assert "<strong>" not in html
    # every character shows as written (HTML escapes aside)
    from html import unescape
    assert unescape(html.removeprefix("<p>").removesuffix("</p>\n")) == crafted


def test_a_literal_span_holds_backticks_and_table_bars():
    assert GFM.render(md_literal("a `tick` | bar", table=False)) == "<p><code>a `tick` | bar</code></p>\n"
    assert md_literal("") == "(empty)" and md_literal("x" * 10, limit=5) == "`xxxx…`"
