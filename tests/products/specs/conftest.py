"""The demo, seeded on a fixed day so its specs (goal dates) are the same on every run."""

from datetime import date

import pytest

from products.demo import loader
from products.signals import demo_seeded

DEMO_DAY = date(2026, 1, 1)


@pytest.fixture
def demo(db, data_root) -> list:
    result = loader.seed(password="lodestar", rows=100, anchor=DEMO_DAY)
    demo_seeded.send(sender=None, products=result.products)
    return result.products
