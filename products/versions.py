"""Recording a product's versions: every committed change to its spec, from any path, is one version.

The receivers below follow the same spec models as the audit log (``access.audit.spec_models``)
plus their many-to-many links. The first change to a product in a transaction registers one
``transaction.on_commit`` callback for it; later changes in the same transaction join that
callback. On commit it takes ``to_document(product)`` and records a ``ProductVersion`` only if
the document differs from the latest version's snapshot — so an import that changes nothing
records nothing, and a rolled-back change (a refused breaking change, a change captured for
review) records nothing because its callback is discarded with the transaction.

Who, why and from where: ``changing(source, message, user)`` around a save says so; without
it the author is the request's user and the source follows the request's path.
"""

from __future__ import annotations

import contextvars
import difflib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from access import audit, policy
from utilities.batches import batched

from . import semver
from .history import ProductVersion, VersionSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeContext:
    source: str
    message: str = ""
    user: object = None


current: contextvars.ContextVar[ChangeContext | None] = contextvars.ContextVar("product_change", default=None)


@contextmanager
def changing(source: str, message: str = "", user=None) -> Iterator[None]:
    """Changes saved inside are recorded with this source, message and author."""
    token = current.set(ChangeContext(source, message, user))
    try:
        yield
    finally:
        current.reset(token)


@contextmanager
def importing(user, message: str = "") -> Iterator[None]:
    """For the spec importer: an import, unless a caller already said what the change is (a restore, a review)."""
    if current.get() is not None:
        yield
        return
    # One callback for every product the import touches, so their versions are recorded together.
    batch = PendingVersions(VersionSource.IMPORT, message or "Imported spec", user)
    transaction.on_commit(batch, robust=True)
    token = current_batch.set(batch)
    try:
        with changing(batch.source, batch.message, user):
            yield
    finally:
        current_batch.reset(token)


def import_errors(importer) -> list:
    """Change review and the semver rule for one imported document (the spec importer calls this before commit)."""
    from . import review

    product = importer.product
    if importer.errors or product is None or importer.product_is_new:
        return []  # a new product has no earlier version to break, and its creator owns it
    refusal = review.import_refusal(product, importer.user)
    if refusal:
        return [importer.document.error(("metadata", "slug"), refusal)]
    try:
        check_semver(product)
    except semver.BreakingChange as exc:
        return [importer.document.error(("metadata", "version"), exc.messages[0])]
    return []


def source_of_request() -> str:
    request = audit.request_context().request
    path = getattr(request, "path", None)
    if path is None:
        return VersionSource.SYSTEM
    if path.startswith("/api/"):
        return VersionSource.API
    if path.startswith("/admin/"):
        return VersionSource.ADMIN
    return VersionSource.FORM


# --- Snapshots -------------------------------------------------------------------------------


def plain(value):
    """JSON for a document's values: decimals as numbers (the importer reads them back), dates as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def snapshot_of(product) -> dict:
    from .specs.document import to_document  # the specs package imports the models

    return plain_json(to_document(product))


def plain_json(document: dict) -> dict:
    """The document as stored in a version's JSON: what ``plain`` makes of its decimals and dates."""
    return json.loads(json.dumps(document, default=plain))


def latest(product) -> ProductVersion | None:
    return ProductVersion.objects.filter(product=product).order_by("-number").first()


def record_version(product, *, source: str, message: str = "", author=None) -> ProductVersion | None:
    """Record the product's spec as a new version, unless it equals the latest one."""
    return record_versions([product.pk], source=source, message=message, author=author).get(product.pk)


def record_versions(product_ids, *, source: str, message: str = "", author=None) -> dict[int, ProductVersion]:
    """Record each product's spec as a new version where it differs from its latest; {product id: new version}.

    A hundred products at a time share their queries: an import of a thousand specs records a
    thousand versions in a few dozen queries.
    """
    recorded = {}
    for chunk in batched(sorted(set(product_ids)), VERSION_CHUNK):
        recorded |= record_chunk(chunk, source, message, author)
    return recorded


VERSION_CHUNK = 100


def record_chunk(ids: list[int], source: str, message: str, author) -> dict[int, ProductVersion]:
    from .models import DataProduct
    from .specs.document import to_documents

    with transaction.atomic():
        # Lock the products (in id order) so two commits never take the same number.
        products = {each.pk: each for each in DataProduct.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        for product_id in products:
            # What is pending for it so far is recorded now: a later change in this transaction makes a new callback.
            while (pending := pending_for(product_id)) is not None:
                pending.done = True
        previous = latest_of(list(products))
        new = []
        for product_id, document in to_documents(products):
            snapshot = plain_json(document)
            before = previous.get(product_id)
            if before is not None and before.snapshot == snapshot:
                continue
            new.append(
                ProductVersion(
                    product=products[product_id],
                    number=(before.number if before else 0) + 1,
                    version=products[product_id].version,
                    author=author if getattr(author, "is_authenticated", False) else None,
                    message=(message or "Edited the spec")[:500],
                    snapshot=snapshot,
                    source=source,
                    breaking=semver.breaking_changes(before.snapshot, snapshot) if before else [],
                )
            )
        ProductVersion.objects.bulk_create(new)
    announce_breaking(new)
    return {version.product_id: version for version in new}


def announce_breaking(new: list[ProductVersion]) -> None:
    """Email the downstream owners of each breaking version, once the transaction recording it commits.

    Called outside ``record_chunk``'s own atomic block: from an on-commit callback (the usual way a
    version is recorded) there is no transaction left, so the emails go at once; inside a caller's
    transaction they wait for its commit, and a rollback sends nothing.
    """
    from .lifecycle import notify_breaking

    for version in new:
        if version.breaking:
            notify_breaking(version)


def latest_of(product_ids: list[int]) -> dict[int, ProductVersion]:
    """The latest version of each of these products that has one, in one query."""
    newest = ProductVersion.objects.filter(product_id=OuterRef("product_id")).order_by("-number").values("number")[:1]
    rows = ProductVersion.objects.filter(product_id__in=product_ids, number=Subquery(newest))
    return {version.product_id: version for version in rows}


# --- Recording on commit ---------------------------------------------------------------------


@dataclass
class PendingVersion:
    """The on-commit callback for one product in one transaction; later changes join it."""

    product_id: int
    source: str
    message: str
    author: object
    parts: set[str] = field(default_factory=set)
    done: bool = False

    def __call__(self) -> None:
        self.done = True
        from .models import DataProduct

        product = DataProduct.objects.filter(pk=self.product_id).first()
        if product is not None:
            record_version(
                product, source=self.source, message=self.message or self.default_message(), author=self.author
            )

    def default_message(self) -> str:
        return "Edited " + ", ".join(sorted(self.parts)) if self.parts else "Edited the spec"


@dataclass
class PendingVersions:
    """The on-commit callback of one import: every product it touched, recorded together."""

    source: str
    message: str
    author: object
    product_ids: set[int] = field(default_factory=set)
    done: bool = False

    def __call__(self) -> None:
        self.done = True
        record_versions(self.product_ids, source=self.source, message=self.message, author=self.author)


current_batch: contextvars.ContextVar[PendingVersions | None] = contextvars.ContextVar("import_batch", default=None)


def pending_for(product_id: int) -> PendingVersion | None:
    for _, func, _ in transaction.get_connection().run_on_commit:
        if isinstance(func, PendingVersion) and func.product_id == product_id and not func.done:
            return func
    return None


def touched(product, part: str) -> None:
    """Note that ``product``'s spec changed (``part`` names what, for the default message)."""
    if product is None or product.pk is None:
        return
    batch = current_batch.get()
    if batch is not None and not batch.done:
        batch.product_ids.add(product.pk)
        return
    pending = pending_for(product.pk)
    if pending is None:
        context = current.get() or ChangeContext(source_of_request())
        author = context.user if context.user is not None else audit.acting_user()
        pending = PendingVersion(product.pk, context.source, context.message, author)
        pending.parts.add(part)
        transaction.on_commit(pending, robust=True)
    pending.parts.add(part)


def part_name(model) -> str:
    return "product details" if model._meta.label == "products.DataProduct" else str(model._meta.verbose_name_plural)


def on_saved(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        touched(audit.safe_product_of(instance), part_name(sender))


def on_deleted(sender, instance, **kwargs) -> None:
    product = audit.safe_product_of(instance)
    if product is not None and product is not instance:
        touched(product, part_name(sender))


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:
        touched(audit.safe_product_of(instance), part_name(type(instance)))
        return
    # Changed from the other side (a user's stewarded products): each product on this side.
    for obj in model.objects.filter(pk__in=pk_set or ()):
        touched(audit.safe_product_of(obj), part_name(model))


def connect() -> None:
    for model in audit.spec_models():
        if model._meta.label == "quality.Webhook":
            continue  # where alerts go is not part of the spec document
        uid = f"products.versions.{model._meta.label}"
        post_save.connect(on_saved, sender=model, dispatch_uid=f"{uid}.saved")
        post_delete.connect(on_deleted, sender=model, dispatch_uid=f"{uid}.deleted")
        for m2m in model._meta.local_many_to_many:
            m2m_changed.connect(on_m2m_changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}.{m2m.name}")


# --- The semantic-version rule on a save -----------------------------------------------------


def check_semver(product) -> None:
    """Raise ``semver.BreakingChange`` if the product as saved now breaks its latest version without a bump.

    A product with no version yet is not checked: callers record its baseline first (``ensure_baseline``).
    """
    previous = latest(product)
    if previous is not None:
        semver.check(previous.snapshot, snapshot_of(product))


BASELINE_MESSAGE = "Version before the first recorded change"


def ensure_baseline(product, message: str = BASELINE_MESSAGE) -> ProductVersion | None:
    """The product's latest version; if it has none, its spec as it stands is recorded first.

    Call it *before* changing a product (one created before versions existed, or bulk-loaded), so the
    change is checked against what it was instead of skipping the semver rule.
    """
    if product.pk is None:  # being created: nothing to compare with
        return None
    return latest(product) or record_version(product, source=VersionSource.SYSTEM, message=message)


# --- Breaking changes on product pages -------------------------------------------------------

# A breaking version is announced on its product's page and on its readers' pages for this many days.
BREAKING_NOTICE_DAYS = 30


def recent_breaking(product_ids, user) -> dict[int, ProductVersion]:
    """The latest breaking version of each of these products made in the last ``BREAKING_NOTICE_DAYS``, in one query.

    Each carries ``visible``: whether ``user`` may see its product (a reader's page names only those).
    """
    from .models import DataProduct

    since = timezone.now() - timedelta(days=BREAKING_NOTICE_DAYS)
    product = policy.restrict(DataProduct.objects.filter(pk=OuterRef("product_id")), user)
    rows = (
        ProductVersion.objects.filter(product_id__in=product_ids, created__gte=since)
        .exclude(breaking=[])
        .annotate(visible=Exists(product))
        .only("product_id", "number", "version", "created", "breaking")
        .order_by("product_id", "-number")
    )
    found: dict[int, ProductVersion] = {}
    for version in rows:
        found.setdefault(version.product_id, version)
    return found


def within_semver(product, save: Callable[[], object], *, source: str = "", message: str = "", user=None):
    """Run ``save()`` in a transaction, then check the semver rule; a breaking change without a bump rolls back."""
    ensure_baseline(product)
    with transaction.atomic():
        with changing(source or source_of_request(), message, user):
            result = save()
        check_semver(product)
    return result


# --- Reading two versions side by side -------------------------------------------------------

SECTION_KEYS = {"inputs": None, "hypotheses": "title", "use_cases": "title", "goals": "title", "initiatives": "title"}


def item_key(section: str, item) -> str:
    if not isinstance(item, dict):
        return str(item)
    if section == "inputs":
        return item.get("output") or item.get("external") or "?"
    if section == "row_filters":
        holder = item.get("user") or item.get("group")
        return f"{holder} on {item.get('column')}"
    return str(item.get(SECTION_KEYS.get(section) or "name", item.get("title", "?")))


def noun(section: str) -> str:
    return section.rstrip("s").replace("_", " ").replace("hypothese", "hypothesis")


def shown(value) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, list):
        return (
            ", ".join(map(str, value)) if all(not isinstance(v, dict | list) for v in value) else f"{len(value)} items"
        )
    text = str(value)
    return text if len(text) <= 60 and "\n" not in text else f"({len(text)} characters)"


def diff_items(where: str, section: str, old: list, new: list) -> list[str]:
    old_items = {item_key(section, item): item for item in old or []}
    new_items = {item_key(section, item): item for item in new or []}
    lines = []
    for key in old_items.keys() - new_items.keys():
        lines.append(f"{where}{noun(section)} '{key}' removed")
    for key in new_items.keys() - old_items.keys():
        lines.append(f"{where}{noun(section)} '{key}' added")
    for key in sorted(old_items.keys() & new_items.keys()):
        lines += diff_values(f"{where}{noun(section)} '{key}'", old_items[key], new_items[key])
    return sorted(lines) if section not in ("columns",) else lines


def diff_values(where: str, old: dict, new: dict) -> list[str]:
    lines = []
    for key in list(old) + [k for k in new if k not in old]:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        is_items = isinstance(before or after, list) and any(isinstance(v, dict) for v in (before or after or []))
        if is_items:
            lines += diff_items(f"{where}: ", key, before or [], after or [])
        else:
            lines.append(f"{where}: {key.replace('_', ' ')} {shown(before)} → {shown(after)}")
    return lines


def diff_lines(old: dict, new: dict) -> list[tuple[str, list[str]]]:
    """The readable difference between two spec documents, per section: [(section, [lines])]."""
    sections = []
    meta = diff_values("product", (old or {}).get("metadata") or {}, (new or {}).get("metadata") or {})
    if meta:
        sections.append(("metadata", meta))
    old_spec, new_spec = (old or {}).get("spec") or {}, (new or {}).get("spec") or {}
    for key in list(old_spec) + [k for k in new_spec if k not in old_spec]:
        before, after = old_spec.get(key), new_spec.get(key)
        if before == after:
            continue
        if isinstance(before or after, list):
            lines = diff_items("", key, before or [], after or [])
        else:
            lines = [f"{key.replace('_', ' ')}: {shown(before)} → {shown(after)}"]
        sections.append((key.replace("_", " "), lines))
    return sections


def yaml_diff(old: dict, new: dict, old_name: str = "before", new_name: str = "after") -> str:
    from .specs.document import dump

    before, after = dump(old or {}).splitlines(keepends=True), dump(new or {}).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, old_name, new_name))


def restore(product, version: ProductVersion, user) -> ProductVersion | None:
    """Apply an old snapshot through the importer, as a new version; raises ``SpecErrors`` if refused."""
    from .specs.document import dump
    from .specs.importer import import_documents
    from .specs.loader import load

    documents = load(dump(version.snapshot), f"version {version.number}")
    with changing(VersionSource.RESTORE, f"Restored version {version.number}", user):
        import_documents(documents, user=user)
    return latest(product)


def parse_number(raw: str | None, name: str) -> int | None:
    """A version number from a query parameter; a ValueError names the parameter."""
    if raw in (None, ""):
        return None
    if not str(raw).isdigit() or int(raw) < 1:
        raise ValueError(name, f"{name} must be a version number (1, 2, 3…).")
    return int(raw)
