"""Template tags and filters for every app's pages: ``{% load lodestar %}`` (registered in settings.TEMPLATES)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from utilities.charts import Chart, format_number
from utilities.markdown import render_markdown

register = template.Library()

# Badge colours by value: a value's tone is the same wherever it appears.
TONES = {
    # product status
    "draft": "neutral",
    "published": "success",
    "deprecated": "warning",
    "retired": "retired",
    # hypothesis status
    "proposed": "info",
    "validated": "success",
    "rejected": "danger",
    # priority
    "high": "danger",
    "medium": "warning",
    "low": "neutral",
    # classification
    "public": "success",
    "internal": "neutral",
    "pii": "danger",
    # SLO category
    "architecture": "info",
    "quality": "accent",
    "governance": "warning",
    # KPI levels
    "north_star": "accent",
    "l1": "info",
    "l2": "neutral",
    "l3": "muted",
}
KPI_LEVEL_SHORT = {"north_star": "North star", "l1": "L1", "l2": "L2", "l3": "L3"}


@register.filter(is_safe=True)
def markdown(text: str | None) -> SafeString:
    """Render user-written markdown, sanitised: ``{{ product.vision|markdown }}``."""
    return render_markdown(text)


@register.simple_tag
def badge(value: str, label: str = "", extra_class: str = "") -> SafeString:
    """A coloured pill for a choice value: ``{% badge product.status product.get_status_display %}``."""
    tone = TONES.get(str(value), "neutral")
    classes = f"badge badge--{tone} {extra_class}".strip()
    return format_html('<span class="{}">{}</span>', classes, label or value)


@register.simple_tag
def kpi_level_badge(level: str) -> SafeString:
    return badge(level, KPI_LEVEL_SHORT.get(level, level), "badge--level")


@register.filter
def number(value) -> str:
    """A number without trailing zeros, thousands grouped: 15.0000 → 15, 99.500 → 99.5, 51000 → 51,000."""
    if value is None or value == "":
        return ""
    try:
        decimal = Decimal(str(value)).normalize()
    except ArithmeticError:
        return str(value)
    return format(decimal, ",f")


@register.filter
def pii_count(columns) -> int:
    """How many of these output columns hold personal data."""
    return sum(1 for column in columns if column.is_pii)


@register.filter
def display_name(user) -> str:
    """A person's full name, or their username."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@register.filter
def initials(user) -> str:
    name = display_name(user)
    parts = [part for part in name.replace(".", " ").replace("_", " ").split() if part]
    return ("".join(part[0] for part in parts[:2]) or "?").upper()


@register.simple_tag(takes_context=True)
def render_panel(context: template.Context, panel) -> SafeString:
    """Render a product page panel with its own context on top of the page's (see ``products.panels``)."""
    panel_template = context.template.engine.get_template(panel.template)
    with context.push(panel=panel, **panel.context):
        return panel_template.render(context)


@register.filter
def ago(value) -> str:
    """'3 days ago' — the largest unit only, for compact lists."""
    if not value:
        return ""
    text = timesince(value, depth=1)
    return "just now" if text.startswith("0\xa0") else f"{text} ago"


# --- Charts (utilities/charts.py, static/js/charts.js) -------------------------------------------
# Plotly.js and charts.js are emitted once per page: by {% chart_assets %} in a base template's block, or else
# by the first {% chart %}. The flag lives in the render context's bottom dict, which every template of one
# page render shares (includes and inclusion tags push their own dicts on top of it).
CHART_ASSETS_FLAG = "lodestar.chart_assets"


def chart_assets_due(context: template.Context) -> bool:
    """True the first time a page asks for the chart scripts, False after."""
    shared = context.render_context.dicts[0]
    if shared.get(CHART_ASSETS_FLAG):
        return False
    shared[CHART_ASSETS_FLAG] = True
    return True


@register.simple_tag(takes_context=True)
def chart_assets(context: template.Context) -> SafeString:
    """Plotly.js, charts.js and charts.css, for pages with charts: ``{% block extra_css %}{% chart_assets %}``."""
    if not chart_assets_due(context):
        return SafeString("")
    return SafeString(render_to_string("components/chart_assets.html"))


@register.inclusion_tag("components/chart.html", takes_context=True)
def chart(context: template.Context, chart: Chart) -> dict:
    """A chart with its title, data table and PNG/CSV buttons: ``{% chart chart %}`` (see ``utilities.charts``)."""
    header, rows = chart.table()
    return {
        "chart": chart,
        "spec": chart.spec(),
        "spec_id": f"chart-{chart.key}-spec",
        "header": header,
        "rows": table_rows(chart, rows),
        "assets": chart_assets_due(context),
    }


def table_rows(chart: Chart, rows: list[list]) -> list[dict]:
    """The data table's rows as shown: each value formatted and flagged when its period is still in progress."""
    partial = chart.partial_cells()
    return [
        {"x": x, "cells": [(format_number(value), (x, column) in partial) for column, value in enumerate(values)]}
        for x, *values in rows
    ]
