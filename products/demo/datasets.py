"""Synthetic Parquet outputs for the demo products: realistic, reproducible and deliberately imperfect.

Each product has one generator (a *family*) that returns all of its outputs as DataFrames, so
derived outputs agree with their sources: ``customer_affinity`` is aggregated from ``purchases``,
``sessions`` are expanded from ``user_daily_activity`` and ``raw_events`` from ``sessions``,
``orders`` are summed from ``order_lines``. Every output has at least ``rows`` rows; most have
exactly ``rows``. Random draws come from ``numpy.random.default_rng`` seeded with ``SEED`` and
the product's slug; dates are laid out backwards from an *anchor* day (today, for the command),
so the data always looks recent while the draws stay the same.

Flaws planted on purpose, for the quality checks to find:

* nulls (guest checkouts without ``customer_id``, unmapped events without ``feature``, …);
* duplicate keys (collector retries in ``raw_events``, CRM id collisions in ``customers``, …);
* malformed emails (``jane.doe at example.com``, ``jane@@example.com``, ``jane@example``, …);
* negative ``mnt_wines`` spend in ``customer_affinity`` (the seed's ``invalid_count(mntwines)``);
* one stale output: ``retail-cross-sell/customer_affinity`` was last scored ``STALE_DAYS`` (12)
  days before the anchor — the nightly scoring job "stopped".

Canary PII, for access tests that must never see it unmasked:

* ``CANARY_EMAIL`` (``canary.pii@example.com``), with ``CANARY_NAME`` and ``CANARY_PHONE``, is
  customer ``CANARY_CUSTOMER_ID`` in ``retail-cross-sell/customers``;
* the same email is the ``customer_email`` of one order in ``sales-intelligence/orders``.

Every email lives under a reserved example domain, phone numbers come from Ofcom's ranges kept
for drama, and IP addresses from the RFC 5737 documentation networks: nothing here is a person.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 1729
# Bump when a generator changes, so existing files are rewritten on the next run.
DATA_VERSION = 1
METADATA_KEY = b"lodestar.demo"
STALE_DAYS = 12

CANARY_CUSTOMER_ID = 100_042
CANARY_EMAIL = "canary.pii@example.com"
CANARY_NAME = "Canary Pii-Tester"
CANARY_PHONE = "+44 20 7946 0999"


def labels(values) -> np.ndarray:
    """Text values as an object array: pandas turns those into strings ten times faster than numpy's unicode."""
    return np.array(values, dtype=object)


ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}

REGIONS = labels(["North", "South", "East", "West"])
REGION_WEIGHTS = [0.31, 0.19, 0.27, 0.23]
AGE_GROUPS = labels(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"])
AGE_WEIGHTS = [0.11, 0.24, 0.23, 0.19, 0.14, 0.09]
FIRST_NAMES = labels(
    "Aisha Alex Amelia Ana Ben Carlos Chen Chloe Daniel Diego Elena Emma Fatima Finn Grace Hannah Hugo Isla "
    "Ivan Jack James Julia Kai Lars Leila Liam Lucas Maria Mateo Mia Noah Nora Olivia Omar Priya Raj Sara "
    "Sofia Tom Yuki Zoe Zara".split()
)
LAST_NAMES = labels(
    "Adams Ahmed Bauer Brown Costa Dubois Evans Fischer Garcia Gonzalez Hansen Ito Jansen Kim Kowalski "
    "Larsen Lee Lopez Martin Meyer Moreau Murphy Nguyen Novak Okafor Patel Peeters Rossi Santos Schmidt "
    "Silva Singh Smith Suzuki Taylor Walsh Wang Weber Wilson Yilmaz".split()
)
EMAIL_DOMAINS = labels(["example.com", "example.org", "example.net", "mail.example.com"])
PHONE_PREFIXES = labels(["+44 20 7946 0", "+44 113 496 0", "+44 121 496 0", "+44 161 496 0", "+44 7700 900"])

CATEGORIES = labels(["Wines", "Fruits", "Meat", "Fish", "Sweets", "Gold"])
CATEGORY_WEIGHTS = np.array([0.30, 0.13, 0.24, 0.11, 0.10, 0.12])
CATEGORY_PRICES = np.array([18.0, 4.5, 14.0, 16.0, 6.0, 95.0])  # median unit price, EUR
SUBCATEGORIES = labels(
    [
        ["Red", "White", "Rosé", "Sparkling"],
        ["Citrus", "Berries", "Stone fruit", "Tropical"],
        ["Beef", "Poultry", "Pork", "Charcuterie"],
        ["Salmon", "Shellfish", "Tuna", "Smoked fish"],
        ["Chocolate", "Biscuits", "Candy", "Pastry"],
        ["Rings", "Necklaces", "Earrings", "Coins"],
    ]
)
BRANDS = labels(
    "Alder&Co Bellavista Casa-Verde Nordhavn Orchard-Lane Mariner Fjordfisk Cocoa-Atelier Lumen Aurum "
    "Harvest-Row Oakbarrel Saltmarsh Sweetbay Goldleaf Highfield Riverbend Tidewater".split()
)
PRODUCT_SUFFIXES = labels(["Classic", "Reserve", "Organic", "Family pack", "Select", "Limited edition"])
CHANNELS = labels(["web", "mobile_app", "store", "marketplace"])
CHANNEL_WEIGHTS = [0.48, 0.31, 0.16, 0.05]
LOYALTY_TIERS = labels(["none", "silver", "gold", "platinum"])
LOYALTY_WEIGHTS = [0.55, 0.27, 0.14, 0.04]

PLATFORMS = labels(["web", "ios", "android", "api"])
PLATFORM_WEIGHTS = [0.52, 0.22, 0.2, 0.06]
APP_VERSIONS = labels(
    [
        ["web-2025.10", "web-2025.11"],
        ["ios-5.3.1", "ios-5.4.0"],
        ["android-5.3.0", "android-5.4.2"],
        ["api-v2", "api-v3"],
    ]
)
PLANS = labels(["free", "pro", "team", "enterprise"])
PLAN_WEIGHTS = [0.55, 0.25, 0.15, 0.05]
# Event names and the product feature each maps to; None marks events no feature claims yet.
EVENTS = {
    "page_view": "Navigation",
    "document_edit": "Editing",
    "document_create": "Editing",
    "comment_add": "Comments",
    "comment_resolve": "Comments",
    "share_link": "Sharing",
    "invite_member": "Sharing",
    "file_export": "Export",
    "template_use": "Templates",
    "search": "Search",
    "heartbeat": None,
    "legacy_sync_v1": None,
}
EVENT_NAMES = labels(list(EVENTS))
EVENT_FEATURES = labels(list(EVENTS.values()))
SOLO_EVENT_WEIGHTS = np.array([0.26, 0.25, 0.06, 0.04, 0.01, 0.03, 0.01, 0.08, 0.07, 0.09, 0.07, 0.03])
COLLAB_EVENT_WEIGHTS = np.array([0.18, 0.22, 0.04, 0.17, 0.07, 0.08, 0.04, 0.05, 0.04, 0.05, 0.04, 0.02])

SECONDS_PER_DAY = 86_400


# --- Helpers ------------------------------------------------------------------------------


def family_rng(name: str) -> np.random.Generator:
    """The random generator of one family: the same seed and name always give the same draws."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def day_weights(days: int, anchor: date, growth: float, weekend: float) -> np.ndarray:
    """Probabilities for the ``days`` days before ``anchor`` (oldest first): a trend and a weekly rhythm."""
    dates = np.datetime64(anchor, "D") - np.arange(days, 0, -1)
    weekday = (dates.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    weights = (1 + growth * np.arange(days) / days) * np.where(weekday >= 5, weekend, 1.0)
    return weights / weights.sum()


def draw_days(rng: np.random.Generator, n: int, anchor: date, days: int, growth=0.5, weekend=0.7) -> np.ndarray:
    """``n`` dates (datetime64[D]) in the ``days`` days before ``anchor``, recent days more likely."""
    offsets = rng.choice(days, size=n, p=day_weights(days, anchor, growth, weekend))
    return np.datetime64(anchor, "D") - days + offsets


def draw_seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: a morning peak, an evening peak and a quiet night."""
    peak = np.where(rng.random(n) < 0.55, 11 * 3600, 20 * 3600)
    return np.clip(rng.normal(peak, 2.6 * 3600), 0, SECONDS_PER_DAY - 1).astype("int64")


def timestamps(days: np.ndarray, seconds: np.ndarray) -> pd.Series:
    """Naive timestamps, in UTC by convention: the Parquet schema stores them as UTC."""
    return pd.Series(days.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))


def ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    return prefix + pd.Series(numbers).astype(str).str.zfill(width)


def pick(rng: np.random.Generator, values: np.ndarray, n: int, p=None) -> np.ndarray:
    return values[rng.choice(len(values), size=n, p=p)]


def some(rng: np.random.Generator, n: int, fraction: float, exclude: int | None = None) -> np.ndarray:
    """Distinct random row positions, about ``fraction`` of ``n`` (at least one)."""
    k = min(n - 1, max(1, round(n * fraction)))
    chosen = rng.choice(n, size=k, replace=False)
    return chosen[chosen != exclude] if exclude is not None else chosen


def with_nulls(rng: np.random.Generator, df: pd.DataFrame, fractions: dict[str, float]) -> pd.DataFrame:
    """Blank out about ``fraction`` of the values of each named column."""
    for column, fraction in fractions.items():
        values = df[column]
        if pd.api.types.is_bool_dtype(values):
            values = values.astype("boolean")
        elif pd.api.types.is_integer_dtype(values):
            values = values.astype("Int64")
        mask = np.zeros(len(df), dtype=bool)
        mask[some(rng, len(df), fraction)] = True
        df[column] = values.mask(mask)
    return df


def other_rows(rng: np.random.Generator, n: int, rows: np.ndarray) -> np.ndarray:
    """For each row position, a different random one."""
    return (rows + rng.integers(1, n, size=len(rows))) % n


def duplicate_keys(rng: np.random.Generator, df: pd.DataFrame, column: str, fraction: float) -> pd.DataFrame:
    """Give some rows the key of another row (an id collision); the rest of the row stays its own."""
    targets = some(rng, len(df), fraction)
    sources = other_rows(rng, len(df), targets)
    values = df[column].to_numpy(copy=True)
    values[targets] = values[sources]
    df[column] = values
    return df


def duplicate_rows(rng: np.random.Generator, df: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Replace some rows by copies of others (a retry that delivered the same record twice)."""
    order = np.arange(len(df))
    targets = some(rng, len(df), fraction)
    order[targets] = other_rows(rng, len(df), targets)
    return df.iloc[np.sort(order)].reset_index(drop=True)


def malform_emails(rng: np.random.Generator, emails: pd.Series, fraction: float) -> pd.Series:
    """Break some addresses the way hand-typed forms and CSV exports do."""
    emails = emails.copy()
    positions = some(rng, len(emails), fraction)
    breakers = [
        lambda s: s.str.replace("@", " at ", regex=False),
        lambda s: s.str.replace("@", "@@", regex=False),
        lambda s: s.str.replace(r"\.[a-z]+$", "", regex=True),
        lambda s: s.str.split("@").str[0],
        lambda s: " " + s,
    ]
    for number, breaker in enumerate(breakers):
        chosen = positions[number :: len(breakers)]
        emails.iloc[chosen] = breaker(emails.iloc[chosen]).to_numpy()
    return emails


def people(n: int, salt: str = "people") -> pd.DataFrame:
    """``n`` fictional people (name, email, phone, region, age group); the same ``n`` gives the same people."""
    rng = family_rng(salt)
    first = pd.Series(pick(rng, FIRST_NAMES, n))
    last = pd.Series(pick(rng, LAST_NAMES, n))
    number = pd.Series(rng.integers(1, 1000, n)).astype(str)
    domain = pd.Series(pick(rng, EMAIL_DOMAINS, n))
    phone = pd.Series(pick(rng, PHONE_PREFIXES, n)) + pd.Series(rng.integers(0, 1000, n)).astype(str).str.zfill(3)
    return pd.DataFrame(
        {
            "full_name": first + " " + last,
            "email": (first + "." + last).str.lower() + number + "@" + domain,
            "phone": phone,
            "region": pick(rng, REGIONS, n, REGION_WEIGHTS),
            "age_group": pick(rng, AGE_GROUPS, n, AGE_WEIGHTS),
        }
    )


def catalog(n: int) -> pd.DataFrame:
    """``n`` products (SKU-000001 …) with category and list price, shared by the retail and sales data."""
    rng = family_rng("catalog")
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_WEIGHTS)
    sub = SUBCATEGORIES[category, rng.integers(0, SUBCATEGORIES.shape[1], n)]
    brand = pick(rng, BRANDS, n)
    price = np.round(rng.lognormal(np.log(CATEGORY_PRICES[category]), 0.45), 2)
    return pd.DataFrame(
        {
            "product_id": ids("SKU-", np.arange(1, n + 1), 6),
            "category_index": category,
            "category": CATEGORIES[category],
            "subcategory": sub,
            "brand": brand,
            "name": pd.Series(brand).str.replace("-", " ") + " " + sub + " " + pick(rng, PRODUCT_SUFFIXES, n),
            "unit_price": price,
            # Zipf-like popularity: a few products sell a lot.
            "popularity": 1 / (rng.permutation(n) + 1) ** 0.8,
        }
    )


def pick_products(rng: np.random.Generator, products: pd.DataFrame, categories: np.ndarray) -> np.ndarray:
    """For each wanted category, a product index of that category, popular products more often."""
    chosen = np.empty(len(categories), dtype="int64")
    for category in range(len(CATEGORIES)):
        wanted = np.flatnonzero(categories == category)
        pool = np.flatnonzero(products["category_index"].to_numpy() == category)
        weights = products["popularity"].to_numpy()[pool]
        chosen[wanted] = pool[rng.choice(len(pool), size=len(wanted), p=weights / weights.sum())]
    return chosen


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# --- retail-cross-sell ----------------------------------------------------------------------


def retail_cross_sell(rows: int, anchor: date) -> dict[str, pd.DataFrame]:
    rng = family_rng("retail-cross-sell")
    base = people(rows)
    products = catalog(rows)
    purchases, prefs = retail_purchases(rng, rows, anchor, base, products)
    customers = retail_customers(rng, rows, anchor, base, purchases)
    affinity = retail_affinity(rng, rows, anchor, base, purchases, prefs)
    return {
        "customers": customers,
        "products": retail_products(rng, rows, anchor, products),
        "purchases": retail_purchase_flaws(rng, purchases),
        "customer_affinity": affinity,
    }


def retail_purchases(rng, rows: int, anchor: date, base: pd.DataFrame, products: pd.DataFrame):
    # A few loyal customers buy often; most buy rarely or never.
    propensity = rng.lognormal(0, 1.3, rows)
    customer = rng.choice(rows, size=rows, p=propensity / propensity.sum())
    # Each customer leans towards some categories: the affinity the product is about.
    prefs = rng.dirichlet(CATEGORY_WEIGHTS * 4, size=rows)
    cumulative = prefs[customer].cumsum(axis=1)
    category = np.minimum((rng.random(rows)[:, None] > cumulative).sum(axis=1), len(CATEGORIES) - 1)
    product = pick_products(rng, products, category)
    quantity = 1 + rng.poisson(np.where(category == 0, 0.7, 0.3))
    promo = np.where(rng.random(rows) < 0.12, rng.uniform(0.1, 0.3, rows), 0.0)
    unit_price = np.round(products["unit_price"].to_numpy()[product] * (1 - promo), 2)
    frame = pd.DataFrame(
        {
            "customer_index": customer,
            "customer_id": 100_000 + customer,
            "product_id": products["product_id"].to_numpy()[product],
            "purchased_at": timestamps(draw_days(rng, rows, anchor, 730, growth=0.6), draw_seconds_of_day(rng, rows)),
            "category_index": category,
            "category": CATEGORIES[category],
            "channel": pick(rng, CHANNELS, rows, CHANNEL_WEIGHTS),
            "region": base["region"].to_numpy()[customer],
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": np.round(quantity * unit_price, 2),
        }
    )
    frame = frame.sort_values("purchased_at", kind="stable").reset_index(drop=True)
    # A cross-sell is a customer's first purchase in a category, after their first purchase at all.
    frame["is_cross_sell"] = ~frame.duplicated(["customer_id", "category"]) & frame.duplicated("customer_id")
    frame.insert(0, "purchase_id", ids("PU-", np.arange(1, rows + 1), 9))
    return frame, prefs


def retail_purchase_flaws(rng, purchases: pd.DataFrame) -> pd.DataFrame:
    purchases = purchases.drop(columns=["customer_index", "category_index"])
    purchases = duplicate_keys(rng, purchases, "purchase_id", 0.001)
    return with_nulls(rng, purchases, {"customer_id": 0.002, "channel": 0.001})  # guest checkouts


def retail_customers(rng, rows: int, anchor: date, base: pd.DataFrame, purchases: pd.DataFrame) -> pd.DataFrame:
    signup = draw_days(rng, rows, anchor, 5 * 365, growth=1.0, weekend=1.1)
    first_purchase = purchases.groupby("customer_index")["purchased_at"].min()
    signup[first_purchase.index] = np.minimum(signup[first_purchase.index], first_purchase.to_numpy().astype("M8[D]"))
    customers = pd.DataFrame(
        {
            "customer_id": 100_000 + np.arange(rows),
            "full_name": base["full_name"],
            "email": malform_emails(rng, base["email"], 0.008),
            "phone": base["phone"],
            "region": base["region"],
            "age_group": base["age_group"],
            "loyalty_tier": pick(rng, LOYALTY_TIERS, rows, LOYALTY_WEIGHTS),
            "marketing_opt_in": rng.random(rows) < 0.62,
            "signup_date": signup,
        }
    )
    customers = with_nulls(rng, customers, {"email": 0.004, "phone": 0.03, "region": 0.005, "age_group": 0.01})
    customers = duplicate_keys(rng, customers, "customer_id", 0.002)  # CRM id collisions
    canary = CANARY_CUSTOMER_ID - 100_000
    customers.loc[canary, ["customer_id", "full_name", "email", "phone"]] = [
        CANARY_CUSTOMER_ID, CANARY_NAME, CANARY_EMAIL, CANARY_PHONE,
    ]  # fmt: skip
    return customers


def retail_products(rng, rows: int, anchor: date, products: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "product_id": products["product_id"],
            "product_name": products["name"],
            "category": products["category"],
            "subcategory": products["subcategory"],
            "brand": products["brand"],
            "unit_price": products["unit_price"],
            "launched_on": draw_days(rng, rows, anchor, 6 * 365, growth=0.8, weekend=0.2),
            "is_active": rng.random(rows) < 0.92,
        }
    )
    frame = with_nulls(rng, frame, {"category": 0.003, "unit_price": 0.002, "brand": 0.001})
    return duplicate_keys(rng, frame, "product_id", 0.001)


def retail_affinity(rng, rows: int, anchor: date, base, purchases: pd.DataFrame, prefs: np.ndarray) -> pd.DataFrame:
    """One row per customer, scored from the purchases before the last (stale) scoring run."""
    cutoff = pd.Timestamp(anchor) - pd.Timedelta(days=STALE_DAYS) + pd.Timedelta(hours=2)
    seen = purchases[purchases["purchased_at"] < cutoff]
    recent = seen[seen["purchased_at"] >= cutoff - pd.Timedelta(days=90)]
    customer = seen["customer_index"].to_numpy()
    category = seen["category_index"].to_numpy()
    amount = seen["amount"].to_numpy()
    count_90d = np.bincount(recent["customer_index"], minlength=rows)
    spend = np.bincount(customer, weights=amount, minlength=rows)
    wines = np.bincount(customer[category == 0], weights=amount[category == 0], minlength=rows)
    bought = np.zeros((rows, len(CATEGORIES)), dtype=bool)
    bought[customer, category] = True
    categories = bought.sum(axis=1)
    # Next best category: the customer's strongest leaning they have not acted on yet.
    leaning = np.where(bought, -np.inf, np.log(prefs) + rng.gumbel(size=prefs.shape))
    next_best = np.where(categories < len(CATEGORIES), CATEGORIES[leaning.argmax(axis=1)], None)
    score = sigmoid(-1.6 + 0.9 * np.log1p(count_90d) + 0.45 * np.minimum(categories, 3) + rng.normal(0, 0.5, rows))
    clv = spend * (1.3 + 0.9 * score) + rng.gamma(2.0, 40.0, rows) * (categories > 0)
    frame = pd.DataFrame(
        {
            "customer_id": 100_000 + np.arange(rows),
            "region": base["region"],
            "age_group": base["age_group"],
            "purchase_count_90d": count_90d,
            "total_spend": np.round(spend, 2),
            "mnt_wines": np.round(wines, 2),
            "categories_purchased": categories,
            "next_best_category": next_best,
            "cross_sell_score": np.round(score, 4),
            "predicted_clv": np.round(clv, 2),
            "scored_at": cutoff + pd.to_timedelta(np.sort(rng.integers(0, 5400, rows)), unit="s"),
        }
    )
    # A refund-netting bug leaves a few negative wine totals: the seed's invalid_count(mntwines) > 0.
    negative = some(rng, rows, 0.0005)
    frame.loc[negative, "mnt_wines"] = -np.round(rng.uniform(5, 80, len(negative)), 2)
    frame = with_nulls(rng, frame, {"cross_sell_score": 0.002, "age_group": 0.01})
    return duplicate_keys(rng, frame, "customer_id", 0.0005)


# --- product-engagement ---------------------------------------------------------------------


def product_engagement(rows: int, anchor: date) -> dict[str, pd.DataFrame]:
    rng = family_rng("product-engagement")
    users = max(50, rows // 25)
    activity, user_profile = engagement_activity(rng, rows, users, anchor)
    sessions = engagement_sessions(rng, activity, user_profile)
    events_per_day = np.bincount(sessions["parent"], weights=sessions["event_count"], minlength=rows)
    activity["events"] = events_per_day.astype("int64")
    # The sessions table keeps the newest ``rows`` sessions; older days live on in the daily activity.
    sessions = sessions.sort_values("started_at", kind="stable").tail(rows).reset_index(drop=True)
    events = engagement_events(rng, rows, sessions)
    return {
        "raw_events": events,
        "sessions": engagement_session_flaws(rng, sessions),
        "user_daily_activity": engagement_activity_flaws(rng, activity),
    }


def engagement_activity(rng, rows: int, users: int, anchor: date):
    """``rows`` distinct (user, day) pairs over 120 days: power users and recent days are likelier."""
    days = 120
    profile = pd.DataFrame(
        {
            "power": rng.lognormal(0, 0.9, users),
            "platform": rng.choice(len(PLATFORMS), size=users, p=PLATFORM_WEIGHTS),
            "plan": pick(rng, PLANS, users, PLAN_WEIGHTS),
            "is_new": rng.random(users) < 0.3,
        }
    )
    profile["collab"] = sigmoid(np.log(profile["power"]) + rng.normal(-0.6, 0.8, users))
    weights = np.outer(profile["power"], day_weights(days, anchor, growth=0.6, weekend=0.55)).ravel()
    keys = np.log(rng.random(weights.size)) / weights  # weighted sampling without replacement
    cells = np.sort(np.argpartition(keys, -rows)[-rows:])
    user, day = np.divmod(cells, days)
    activity = pd.DataFrame(
        {
            "user_id": 10_000 + user,
            "activity_date": np.datetime64(anchor, "D") - days + day,
            "sessions": 1 + np.minimum(rng.poisson(0.15 + 0.35 * profile["power"].to_numpy()[user]), 7),
            "events": 0,
            "features_used": np.minimum(1 + rng.binomial(4, 0.35, rows), 5),
            "plan": profile["plan"].to_numpy()[user],
        }
    )
    first_day = ~activity.sort_values("activity_date").duplicated("user_id")
    activity["is_new_user"] = first_day.sort_index().to_numpy() & profile["is_new"].to_numpy()[user]
    activity = activity[["user_id", "activity_date", "sessions", "events", "features_used", "is_new_user", "plan"]]
    return activity, profile


def engagement_sessions(rng, activity: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    parent = np.repeat(np.arange(len(activity)), activity["sessions"].to_numpy())
    n = len(parent)
    user = activity["user_id"].to_numpy()[parent] - 10_000
    collaborative = rng.random(n) < profile["collab"].to_numpy()[user]
    # Collaborative sessions run longer and hold more events.
    duration = np.clip(rng.lognormal(np.log(np.where(collaborative, 900, 420)), 0.8), 15, 4 * 3600).astype("int64")
    started = timestamps(activity["activity_date"].to_numpy()[parent], draw_seconds_of_day(rng, n))
    platform = np.where(rng.random(n) < 0.85, profile["platform"].to_numpy()[user], rng.integers(0, 4, n))
    return pd.DataFrame(
        {
            "parent": parent,
            "user_id": user + 10_000,
            "started_at": started,
            "ended_at": started + pd.to_timedelta(duration, unit="s"),
            "platform": PLATFORMS[platform],
            "event_count": 1 + rng.poisson(np.minimum(duration / 150, 40)),
            "duration_seconds": duration,
            "is_collaborative": collaborative,
        }
    )


def engagement_events(rng, rows: int, sessions: pd.DataFrame) -> pd.DataFrame:
    """The newest ``rows`` events: the raw log keeps only a few weeks, the sessions keep months."""
    counts = sessions["event_count"].to_numpy()
    # Expand only the newest sessions that hold at least ``rows`` events between them.
    newest = np.searchsorted(np.cumsum(counts[::-1]), rows) + 1
    start = max(0, len(counts) - newest)
    session = np.repeat(np.arange(start, len(sessions)), counts[start:])
    n = len(session)
    collaborative = sessions["is_collaborative"].to_numpy()[session]
    solo = rng.choice(len(EVENT_NAMES), size=n, p=SOLO_EVENT_WEIGHTS / SOLO_EVENT_WEIGHTS.sum())
    collab = rng.choice(len(EVENT_NAMES), size=n, p=COLLAB_EVENT_WEIGHTS / COLLAB_EVENT_WEIGHTS.sum())
    event = np.where(collaborative, collab, solo)
    duration = sessions["duration_seconds"].to_numpy()[session]
    offset = pd.to_timedelta((rng.random(n) * duration * 1000).astype("int64"), unit="ms")
    user = sessions["user_id"].to_numpy()[session]
    platform_index = pd.Index(PLATFORMS).get_indexer(sessions["platform"].to_numpy()[session])
    frame = pd.DataFrame(
        {
            "user_id": user,
            "session_id": sessions.index.to_numpy()[session],
            "event_ts": sessions["started_at"].to_numpy()[session] + offset.to_numpy(),
            "event_name": EVENT_NAMES[event],
            "feature": EVENT_FEATURES[event],
            "platform": PLATFORMS[platform_index],
            "app_version": APP_VERSIONS[platform_index, rng.integers(0, 2, n)],
            "ip_address": user_ip_addresses(user),
            "duration_ms": np.clip(rng.lognormal(np.log(180), 1.1, n), 1, 120_000).astype("int64"),
        }
    )
    frame = frame.sort_values("event_ts", kind="stable").tail(rows).reset_index(drop=True)
    frame["session_id"] = session_ids(frame["session_id"].to_numpy())
    frame.insert(0, "event_id", ids("evt_", np.arange(1, rows + 1), 10))
    frame = with_nulls(rng, frame, {"ip_address": 0.01, "app_version": 0.002})  # IPs dropped without consent
    return duplicate_rows(rng, frame, 0.004)  # the collector retries and delivers some events twice


def user_ip_addresses(user: np.ndarray) -> pd.Series:
    networks = labels(["192.0.2.", "198.51.100.", "203.0.113."])
    return pd.Series(networks[user % 3]) + pd.Series(1 + (user * 7919) % 254).astype(str)


def session_ids(positions: np.ndarray) -> pd.Series:
    return ids("ses_", positions + 1, 9)


def engagement_session_flaws(rng, sessions: pd.DataFrame) -> pd.DataFrame:
    sessions = sessions.drop(columns=["parent"])
    sessions.insert(0, "session_id", session_ids(np.arange(len(sessions))))
    sessions = with_nulls(rng, sessions, {"platform": 0.002, "ended_at": 0.001})
    return duplicate_keys(rng, sessions, "session_id", 0.0005)


def engagement_activity_flaws(rng, activity: pd.DataFrame) -> pd.DataFrame:
    activity = with_nulls(rng, activity, {"plan": 0.001})
    return duplicate_rows(rng, activity, 0.001)


# --- sales-intelligence ---------------------------------------------------------------------


def sales_intelligence(rows: int, anchor: date) -> dict[str, pd.DataFrame]:
    rng = family_rng("sales-intelligence")
    base = people(rows)
    products = catalog(rows)
    orders = sales_order_headers(rng, rows, anchor, base)
    lines = sales_lines(rng, orders, products)
    gross = np.bincount(lines["order_index"], weights=lines["line_revenue"], minlength=rows)
    discount_rate = np.where(rng.random(rows) < 0.3, rng.uniform(0.05, 0.25, rows), 0.0)
    orders["items"] = np.bincount(lines["order_index"], weights=lines["quantity"], minlength=rows).astype("int64")
    orders["discount"] = np.round(gross * discount_rate, 2)
    orders["revenue"] = np.round(gross - orders["discount"], 2)
    first_line = ~lines.duplicated("order_index")
    orders["product_category"] = lines.loc[first_line, "product_category"].to_numpy()
    return {"orders": sales_order_flaws(rng, orders), "order_lines": sales_line_flaws(rng, rows, lines)}


def sales_order_headers(rng, rows: int, anchor: date, base: pd.DataFrame) -> pd.DataFrame:
    propensity = rng.lognormal(0, 1.0, rows)
    customer = rng.choice(rows, size=rows, p=propensity / propensity.sum())
    order_date = np.sort(draw_days(rng, rows, anchor, 730, growth=0.5, weekend=0.8))
    orders = pd.DataFrame(
        {
            "order_id": ids("SO-", np.arange(1, rows + 1), 8),
            "order_date": order_date,
            "customer_id": 100_000 + customer,
            "customer_email": base["email"].to_numpy()[customer],
            "region": base["region"].to_numpy()[customer],
            "channel": pick(rng, CHANNELS, rows, CHANNEL_WEIGHTS),
        }
    )
    orders["is_first_order"] = ~orders.duplicated("customer_id")
    orders["status"] = pick(rng, labels(["completed", "refunded", "cancelled"]), rows, [0.92, 0.05, 0.03])
    orders["sales_rep"] = ids("REP-", rng.integers(1, 60, rows), 3)
    return orders


def sales_lines(rng, orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    order = np.repeat(np.arange(len(orders)), 1 + np.minimum(rng.poisson(0.9, len(orders)), 6))
    n = len(order)
    product = pick_products(rng, products, rng.choice(len(CATEGORIES), size=n, p=CATEGORY_WEIGHTS))
    quantity = 1 + rng.poisson(0.4, n)
    unit_price = products["unit_price"].to_numpy()[product]
    return pd.DataFrame(
        {
            "order_index": order,
            "line_id": ids("SOL-", np.arange(1, n + 1), 10),
            "order_id": orders["order_id"].to_numpy()[order],
            "product_id": products["product_id"].to_numpy()[product],
            "product_category": products["category"].to_numpy()[product],
            "quantity": quantity,
            "unit_price": unit_price,
            "line_revenue": np.round(quantity * unit_price, 2),
            "order_date": orders["order_date"].to_numpy()[order],
        }
    )


def sales_order_flaws(rng, orders: pd.DataFrame) -> pd.DataFrame:
    orders = orders[
        ["order_id", "order_date", "customer_id", "customer_email", "region", "channel", "product_category", "items",
         "revenue", "discount", "status", "is_first_order", "sales_rep"]
    ].copy()  # fmt: skip
    orders["customer_email"] = malform_emails(rng, orders["customer_email"], 0.008)
    canary = rng.integers(len(orders) // 2, len(orders))
    orders = with_nulls(rng, orders, {"customer_email": 0.005, "region": 0.003})
    guests = some(rng, len(orders), 0.002, exclude=canary)
    orders["customer_id"] = orders["customer_id"].astype("Int64").mask(np.isin(np.arange(len(orders)), guests))
    orders = duplicate_keys(rng, orders, "order_id", 0.001)
    orders.loc[canary, ["customer_id", "customer_email"]] = [CANARY_CUSTOMER_ID, CANARY_EMAIL]
    return orders


def sales_line_flaws(rng, rows: int, lines: pd.DataFrame) -> pd.DataFrame:
    # The line table keeps the newest lines only: the oldest orders have fallen out of it.
    lines = lines.drop(columns=["order_index"]).tail(rows).reset_index(drop=True)
    lines = with_nulls(rng, lines, {"product_category": 0.002, "unit_price": 0.001})
    return duplicate_keys(rng, lines, "line_id", 0.0005)


# --- churn-early-warning (a draft) ----------------------------------------------------------


def churn_early_warning(rows: int, anchor: date) -> dict[str, pd.DataFrame]:
    """Four weeks of daily churn scores for the app's subscribers."""
    rng = family_rng("churn-early-warning")
    days = 28
    users = -(-rows // days)
    user = np.arange(rows) % users
    days_back = np.arange(rows) // users
    scored_on = np.datetime64(anchor, "D") - 1 - days_back
    # Days since the last session on the newest score, fewer on the scores before it.
    inactive = np.maximum(0, rng.geometric(np.clip(rng.beta(2, 5, users), 0.02, 0.9))[user] - 1 - days_back)
    sessions = rng.poisson(np.maximum(0.5, 30 / (1 + inactive)))
    probability = sigmoid(-2.2 + 0.12 * inactive - 0.05 * sessions + rng.normal(0, 0.4, rows))
    band = labels(["low", "medium", "high"])[(probability >= 0.3).astype(int) + (probability >= 0.6)]
    contacts = people(users, salt="subscribers")
    frame = pd.DataFrame(
        {
            "user_id": 10_000 + user,
            "scored_on": scored_on,
            "account_email": malform_emails(rng, contacts["email"], 0.005).to_numpy()[user],
            "plan": pick(rng, PLANS, users, PLAN_WEIGHTS)[user],
            "days_since_last_session": inactive,
            "sessions_last_28d": sessions,
            "churn_probability": np.round(probability, 4),
            "risk_band": band,
        }
    )
    frame = with_nulls(rng, frame, {"churn_probability": 0.003, "account_email": 0.002})
    return {"churn_scores": duplicate_rows(rng, frame, 0.001)}


FAMILIES: dict[str, Callable[[int, date], dict[str, pd.DataFrame]]] = {
    "retail-cross-sell": retail_cross_sell,
    "product-engagement": product_engagement,
    "sales-intelligence": sales_intelligence,
    "churn-early-warning": churn_early_warning,
}


# --- Files ----------------------------------------------------------------------------------


def stamp(rows: int, anchor: date) -> dict:
    """What a file was generated from; a file with another stamp is out of date."""
    return {"seed": SEED, "version": DATA_VERSION, "rows": rows, "anchor": anchor.isoformat()}


def is_current(path: Path, rows: int, anchor: date) -> bool:
    """True when the file exists and was generated from the same seed, size and anchor day."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return json.loads(metadata.get(METADATA_KEY, b"{}")) == stamp(rows, anchor)


def arrow_schema(columns: list[tuple[str, str]], metadata: dict) -> pa.Schema:
    fields = [pa.field(name, ARROW_TYPES[data_type]) for name, data_type in columns]
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata).encode()})


def write_parquet(frame: pd.DataFrame, path: Path, columns: list[tuple[str, str]], metadata: dict) -> int:
    """Write ``frame`` with the declared column types to ``path`` atomically; return the row count."""
    names = [name for name, _ in columns]
    if list(frame.columns) != names:
        raise ValueError(f"{path.name}: generated columns {list(frame.columns)} differ from the spec {names}")
    table = pa.Table.from_pandas(frame, schema=arrow_schema(columns, metadata), preserve_index=False)
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        pq.write_table(table, temporary, compression="zstd")
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp's 0600 would lock out a worker running as another user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return table.num_rows


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
