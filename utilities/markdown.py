"""Markdown for anything a user typed: rendered by Python-Markdown, then sanitised by nh3.

Nothing a user typed is trusted as HTML. Markdown may carry raw HTML, so the rendered
output goes through an allow-list: a fixed set of tags and attributes, links only to
http, https and mailto (or relative), and no images, styles, scripts or event handlers.
"""

from __future__ import annotations

import threading

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["tables", "fenced_code", "sane_lists"]
# The tables extension writes alignment as a style attribute by default; the CSP
# forbids inline styles, so ask for the old align attribute instead.
EXTENSION_CONFIGS = {"tables": {"use_align_attribute": True}}

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "b", "i", "del", "s", "sup", "sub", "code", "pre", "kbd", "blockquote",
    "ul", "ol", "li", "dl", "dt", "dd", "a", "abbr",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)


_local = threading.local()


def _parser() -> markdown_lib.Markdown:
    """One parser per thread: building one costs more than converting a field, and it is not thread-safe."""
    if not hasattr(_local, "parser"):
        _local.parser = markdown_lib.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    return _local.parser


def sanitize_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return _cleaner.clean(html)


def render_markdown(text: str | None) -> SafeString:
    """Render user-written markdown to HTML that is safe to put on a page."""
    if not text:
        return mark_safe("")
    html = _parser().reset().convert(text)
    return mark_safe(sanitize_html(html))  # noqa: S308 — sanitised by the allow-list above
