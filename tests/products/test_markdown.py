"""Markdown is rendered and sanitised: nothing a user typed is trusted as HTML."""

import re

import pytest

from tests import factories
from utilities.markdown import render_markdown

XSS_CORPUS = [
    "<script>alert('xss-script')</script>",
    "[click](javascript:alert('xss-md-link'))",
    "[click](JaVaScRiPt:alert('xss-md-case'))",
    "<a href=\"javascript:alert('xss-html-link')\">click</a>",
    "<a href=\"jav&#x09;ascript:alert('xss-tab')\">tab</a>",
    "<a href=\"&#106;avascript:alert('xss-entity')\">entity</a>",
    "<img src=x onerror=\"alert('xss-img')\">",
    "![image](https://evil.example.com/pixel.png)",
    '<svg onload="alert(\'xss-svg\')"><circle r="1"/></svg>',
    '<iframe src="https://evil.example.com/"></iframe>',
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"data:text/html,<script>alert('xss-data')</script>\">data</a>",
    "<p style=\"background:url(javascript:alert('xss-style'))\" onclick=\"alert('xss-click')\">styled</p>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"alert('xss-mxss')\">",
    '<form action="https://evil.example.com"><button formaction="javascript:alert(\'xss-form\')">go</button></form>',
    "<object data=\"javascript:alert('xss-object')\"></object><embed src=\"javascript:alert('xss-embed')\">",
    "<details open ontoggle=\"alert('xss-toggle')\">x</details>",
    '<base href="https://evil.example.com/"><meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
]


def assert_harmless(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered
    assert "data:" not in lowered
    assert not re.search(r"<[^>]+\son\w+\s*=", lowered), "an on* event handler survived"
    assert not re.search(r"<[^>]+\sstyle\s*=", lowered), "a style attribute survived"
    for tag in (
        "<img",
        "<svg",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<button",
        "<base",
        "<meta",
        "<style",
        "<math",
    ):
        assert tag not in lowered


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_it_neutralises_each_payload(payload):
    assert_harmless(str(render_markdown(payload)))


def test_it_neutralises_the_whole_corpus_at_once():
    assert_harmless(str(render_markdown("\n\n".join(XSS_CORPUS))))


def test_it_renders_ordinary_markdown():
    html = str(render_markdown("# Vision\n\nHelp **sales** with *focus*.\n\n- one\n- two\n\n`code`"))
    assert "<h1>Vision</h1>" in html
    assert "<strong>sales</strong>" in html
    assert "<em>focus</em>" in html
    assert "<li>one</li>" in html
    assert "<code>code</code>" in html


def test_it_renders_tables_without_inline_styles():
    html = str(render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |"))
    assert "<table>" in html
    assert '<td align="right">2</td>' in html
    assert "style=" not in html


def test_it_renders_fenced_code_escaped():
    html = str(render_markdown("```python\nif a < b: print('<b>')\n```"))
    assert "<pre><code>" in html
    assert "a &lt; b" in html
    assert "&lt;b&gt;" in html


def test_links_keep_safe_schemes_and_get_a_safe_rel():
    html = str(render_markdown("[docs](https://example.com/a) [mail](mailto:team@example.com) [page](/products/x/)"))
    assert 'href="https://example.com/a"' in html
    assert 'href="mailto:team@example.com"' in html
    assert 'href="/products/x/"' in html
    assert html.count('rel="noopener noreferrer nofollow"') == 3


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_the_product_page_shows_a_hostile_vision_harmlessly(client, charlie, alice):
    vision = "Plain words survive.\n\n" + "\n\n".join(XSS_CORPUS)
    product = factories.DataProductFactory(
        slug="hostile", owner=alice, vision=vision, summary="<script>alert(1)</script>"
    )
    goal = factories.GoalFactory(product=product, description=XSS_CORPUS[1])
    factories.HypothesisFactory(product=product, goal=goal, evidence=XSS_CORPUS[6])
    factories.KPIFactory(product=product, definition=XSS_CORPUS[8])
    client.force_login(charlie)
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Plain words survive." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the summary is plain text, escaped
    body = html[html.index("<body") :]
    for marker in ("xss-script", "xss-img", "xss-svg", "xss-click", "xss-mxss", "xss-toggle"):
        assert marker not in body
    assert "javascript:" not in body.lower()
    scripts = re.findall(r"<script[^>]*>", html)
    assert all('src="/static/' in tag for tag in scripts), scripts
    assert not re.search(r"<[^>]+\son\w+\s*=", body)
    assert not re.search(r"<[^>]+\sstyle\s*=", body)
