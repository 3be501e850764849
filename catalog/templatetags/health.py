"""Health and SLO state badges with words, not colour alone: ``{% load health %}``."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from quality.choices import Health, SLOState

register = template.Library()

HEALTH_TONES = {Health.HEALTHY: "success", Health.WARNING: "warning", Health.FAILING: "danger"}
SLO_TONES = {SLOState.MET: "success", SLOState.AT_RISK: "warning", SLOState.BREACHED: "danger"}
SLO_LABELS = {**dict(SLOState.choices), SLOState.UNKNOWN: "No data"}


def state_badge(kind: str, value: str, label: str, tone: str) -> SafeString:
    return format_html(
        '<span class="badge badge--{} state-badge state-badge--{}" title="{}: {}">'
        '<span class="sr-only">{}: </span>{}</span>',
        tone,
        value,
        kind,
        label,
        kind,
        label,
    )


@register.simple_tag
def health_badge(state: str | None) -> SafeString:
    """``{% health_badge product.health_state %}``: a product without a health row is unknown."""
    state = state or Health.UNKNOWN
    return state_badge("Health", state, dict(Health.choices).get(state, state), HEALTH_TONES.get(state, "muted"))


@register.simple_tag
def slo_state_badge(state: str | None) -> SafeString:
    """``{% slo_state_badge slo.state %}``: an SLO never measured has no data."""
    state = state or SLOState.UNKNOWN
    return state_badge("SLO", state, SLO_LABELS.get(state, state), SLO_TONES.get(state, "muted"))
