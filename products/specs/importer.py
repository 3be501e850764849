"""Writing spec documents back: one atomic upsert keyed by slug and natural keys.

``import_documents`` runs every document of one invocation in one transaction: any error in
any of them and nothing is written. An item is saved only when a value differs from what is
stored, so importing the same document twice writes nothing (no audit events, no versions).
Items the document no longer lists are deleted: the document is the whole spec. A dry run
does all the same work and checks, then rolls back.

Permissions come from ``access.policy``: change permission on an existing product, add
permission for a new one; handing a product to another owner, custom SQL checks and
connections follow the same rules as the forms and the API. Lifecycle moves go through
``lifecycle.change_status``; review and the semantic-version rule apply per product.

For speed, the documents run side by side in steps (``run_together``): new items are validated
one by one but written together, one INSERT per model and step for the whole import
(``flush_together``), and what is read once serves all documents (``Shared``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError
from django.db.models.signals import m2m_changed

from access import audit, policy
from quality import schedules
from quality.models import CUSTOM_SQL

from .. import choices, lifecycle, roles, versions
from ..models import KPI, SLO, Connection, DataProduct, Domain, Output, ProductInput, RowFilter, Tag, Team
from . import fields as f
from .document import dump, to_documents
from .loader import Document, Path, SpecError, SpecErrors, read_back

MISSING = object()
META, SPEC = ("metadata",), ("spec",)
# Model field names that a document spells differently (references and renamed fields).
DOC_KEYS = {"source_output": "output", "external_name": "external", "target_value": "target"}


@dataclass
class ProductChange:
    slug: str
    lines: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    products: list[ProductChange]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(product.lines for product in self.products)

    def text(self) -> str:
        out = []
        for product in self.products:
            out.append(f"{product.slug}: " + ("unchanged" if not product.lines else f"{len(product.lines)} change(s)"))
            out += [f"  {line}" for line in product.lines]
        if self.dry_run:
            out.append("Dry run: nothing was written.")
        return "\n".join(out) + "\n"


def import_documents(documents: list[Document], *, user, dry_run: bool = False, message: str = "") -> ImportReport:
    """Import every document in one transaction; raise ``SpecErrors`` (nothing written) on any error.

    ``message`` is the recorded versions' message (default "Imported spec").
    """
    errors = duplicate_slugs(documents)
    report = ImportReport([], dry_run)
    shared = Shared()
    if not errors:
        shared.current = current_documents(documents, user)
        shared.existing = DataProduct.objects.in_bulk([each.slug for each in documents], field_name="slug")
    with transaction.atomic(), versions.importing(user, message), roles.permissions_remembered():
        # Check schedules are synced once per output when the documents are in, before any rollback.
        with schedules.syncs_deferred():
            importers = [ProductImporter(each, user, shared) for each in upstream_first(documents) if not errors]
            run_together(importers)
            for importer in importers:
                errors += importer.errors or versions.import_errors(importer)  # review and semver rule
                report.products.append(ProductChange(importer.document.slug, importer.lines))
        if errors or dry_run:
            transaction.set_rollback(True)
    if errors:
        raise SpecErrors(errors)
    return report


def run_together(importers: list[ProductImporter]) -> None:
    """Run the importers step by step side by side, writing all their new items after each step.

    A step ends where new items must be written before the next can refer to them (goals before
    the hypotheses naming them); so a thousand documents cost a few INSERTs per step, not a few
    per document. A document's products come after those whose outputs it reads (``upstream_first``),
    and reads them only in a step after all outputs are written.
    """
    if not importers:
        return
    running = [(importer, importer.steps()) for importer in importers]
    while running:
        running = [(importer, steps) for importer, steps in running if next(steps, DONE) is not DONE]
        flush_together(importers)  # all new items written before any importer takes its next step
    first = importers[0]  # the importers share the user and ``Shared``
    DataProduct.objects.bulk_update(first.shared.north_stars, ["north_star"], batch_size=500)
    audit.record_created([obj for importer in importers for obj in importer.created], actor=first.user)


DONE = object()


def flush_together(importers: list[ProductImporter]) -> None:
    """Write the new items the importers hold, one INSERT per model, then their links, one per field.

    ``bulk_create`` sends no signals, so this does what their receivers would: each product's
    pending version and its outputs' check schedules (the audit events follow in ``run_together``).
    """
    from quality.models import Check

    items = [(importer, obj) for importer in importers for obj in importer.new_items]
    links = [(importer, link) for importer in importers for link in importer.new_links]
    for importer in importers:
        importer.new_items, importer.new_links = [], []
    for model, group in grouped(items, lambda pair: type(pair[1])):
        objs = [obj for _, obj in group]
        later = unlink_unsaved(objs)
        model.objects.bulk_create(objs)
        relink(model, later)
        for importer, mine in grouped(group, lambda pair: pair[0]):
            importer.created += [obj for _, obj in mine]
            versions.touched(importer.product, versions.part_name(model))
        if model is Check:
            for output_id in {check.output_id for check in objs}:
                schedules.sync_soon(output_id)
    for (model, name), group in grouped(links, lambda pair: (type(pair[1][0]), pair[1][1])):
        pairs = [(obj.pk, each.pk) for _, (obj, _, targets) in group for each in targets]
        through, rows = link_rows(model, name, pairs)
        through.objects.bulk_create(rows)


@dataclass
class Shared:
    """What one import's documents share: the spec each product has now, and the users found by name."""

    current: dict[str, dict] = field(default_factory=dict)  # slug → the product's document as its export reads back
    users: dict[str, object] = field(default_factory=dict)
    domains: dict[str, object] = field(default_factory=dict)
    tags: dict[str, object] = field(default_factory=dict)
    teams: dict[str, object] = field(default_factory=dict)
    existing: dict[str, DataProduct] = field(default_factory=dict)  # slug → the product, for those that exist
    north_stars: list[DataProduct] = field(default_factory=list)  # new products whose north star is set at the end


def current_documents(documents: list[Document], user) -> dict[str, dict]:
    """The current document of every product named that ``user`` may see, as ``load`` would read its export.

    Read for all of them at once (a few queries per hundred products), before anything changes: a
    document changes only its own product, so none of these goes stale during the import.
    """
    visible = DataProduct.objects.restrict(user, policy.VIEW).filter(slug__in=[each.slug for each in documents])
    return {
        each["metadata"]["slug"]: read_back(dump(each))
        for _, each in to_documents(visible.values_list("pk", flat=True))
    }


def duplicate_slugs(documents: list[Document]) -> list[SpecError]:
    seen, errors = {}, []
    for document in documents:
        if document.slug in seen:
            first = seen[document.slug]
            message = f"the product {document.slug!r} is also in {first.source} (line {first.locate(('metadata',))[0]})"
            errors.append(document.error(("metadata", "slug"), message))
        seen.setdefault(document.slug, document)
    return errors


def upstream_first(documents: list[Document]) -> list[Document]:
    """Documents ordered so that a product comes after the products whose outputs it reads."""
    by_slug = {document.slug: document for document in documents}
    ordered, placed = [], set()

    def place(document: Document, path: tuple) -> None:
        if document.slug in placed or document.slug in path:
            return
        for item in document.data.get("spec", {}).get("inputs", []):
            upstream = str(item.get("output", "")).split("/")[0]
            if upstream in by_slug:
                place(by_slug[upstream], (*path, document.slug))
        placed.add(document.slug)
        ordered.append(document)

    for document in documents:
        place(document, ())
    return ordered


def shown(value) -> str:
    """A value in a change line: short text quoted, long text summarised."""
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, str) and (len(value) > 60 or "\n" in value):
        return f"({len(value)} characters)"
    return str(value)


def stored_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields a document can change: no keys, timestamps or generated columns."""
    return [
        each
        for each in model._meta.concrete_fields
        if not each.primary_key
        and not getattr(each, "auto_now", False)
        and not getattr(each, "auto_now_add", False)
        and not isinstance(each, models.GeneratedField)
    ]


def state(obj: models.Model) -> dict[str, object]:
    """Each stored field's raw value (a related object's id)."""
    return {each.name: getattr(obj, each.attname) for each in stored_fields(type(obj))}


def shown_field(model: type[models.Model], name: str, raw) -> str:
    """A stored value as a change line shows it: a related object by its name."""
    model_field = model._meta.get_field(name)
    if model_field.is_relation and raw is not None:
        raw = model_field.related_model._default_manager.filter(pk=raw).first()
    return shown(raw)


def plain_json(value):
    """YAML numbers load as decimals; JSON fields store them as the floats and ints JSON knows."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {key: plain_json(each) for key, each in value.items()}
    if isinstance(value, list):
        return [plain_json(each) for each in value]
    return value


def resolved_references(obj: models.Model) -> list[str]:
    """Foreign keys set to a saved object in hand, which ``full_clean`` need not look up again."""
    names = []
    for each in type(obj)._meta.concrete_fields:
        if each.is_relation and each.is_cached(obj):
            related = each.get_cached_value(obj)
            if related is not None and related.pk is not None:
                names.append(each.name)
    return names


def link_new(obj: models.Model, name: str, targets: list) -> None:
    """Link an object created just now to ``targets``: what ``add`` does, signals included, less its
    read of the links that already exist (there are none)."""
    if not targets:
        return
    pks = {each.pk for each in targets}
    through, rows = link_rows(type(obj), name, [(obj.pk, pk) for pk in pks])
    related = type(obj)._meta.get_field(name).related_model
    signal = {"sender": through, "instance": obj, "reverse": False, "model": related, "pk_set": pks}
    m2m_changed.send(action="pre_add", using=obj._state.db, **signal)
    through.objects.bulk_create(rows)
    m2m_changed.send(action="post_add", using=obj._state.db, **signal)


def link_rows(model: type[models.Model], name: str, pairs: list[tuple]) -> tuple[type[models.Model], list]:
    """The table behind ``model``'s many-to-many field ``name``, and its rows for these (object id, target id)."""
    m2m = model._meta.get_field(name)
    through = m2m.remote_field.through
    source, target = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()
    return through, [through(**{f"{source}_id": own, f"{target}_id": other}) for own, other in pairs]


def unlink_unsaved(objs: list[models.Model]) -> list[tuple[models.Model, str, models.Model]]:
    """Clear nullable references to objects not written yet (a KPI's parent in the same INSERT).

    Returns (object, field, referenced object) for ``relink`` to set once everything has its id.
    """
    later = []
    for obj in objs:
        for each in type(obj)._meta.concrete_fields:
            if each.is_relation and each.null and each.is_cached(obj):
                related = each.get_cached_value(obj)
                if related is not None and related.pk is None:
                    later.append((obj, each.name, related))
                    setattr(obj, each.name, None)
    return later


def relink(model: type[models.Model], later: list[tuple[models.Model, str, models.Model]]) -> None:
    """Set the references ``unlink_unsaved`` cleared, one UPDATE per field."""
    for name, group in grouped(later, lambda link: link[1]):
        for obj, _, related in group:
            setattr(obj, name, related)
        model.objects.bulk_update([obj for obj, _, _ in group], [name])


def grouped(items: list, key) -> list[tuple[object, list]]:
    """Items grouped by ``key(item)``, groups in order of first appearance."""
    groups: dict = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.items())


def positions(current: list[tuple[int | None, int | None]]) -> list[int]:
    """``order`` values for items in document order, given each one's (order, pk) or (None, None) when new.

    Existing items keep their values when those already sort the items in the document's order
    (new items, whose ids come last, join the value before them); otherwise all are renumbered.
    """
    proposed, keys, previous = [], [], 0
    for index, (order, pk) in enumerate(current):
        value = order if order is not None else previous
        proposed.append(value)
        keys.append((value, pk if pk is not None else math.inf, index))
        previous = value
    in_order = all(a[:2] < b[:2] for a, b in zip(keys, keys[1:], strict=False))
    return proposed if in_order else list(range(len(current)))


class ProductImporter:
    """Imports one document; collects every error it can find instead of stopping at the first."""

    def __init__(self, document: Document, user, shared: Shared | None = None) -> None:
        self.document = document
        self.user = user
        self.shared = shared or Shared()
        self.users = self.shared.users
        self.meta = document.data["metadata"]
        self.spec = document.data.get("spec") or {}
        self.errors: list[SpecError] = []
        self.lines: list[str] = []
        self.deletions: list[tuple[str, models.Model]] = []
        self.product: DataProduct | None = None
        self.new_product: DataProduct | None = None  # the product, when this import creates it
        # New items validated but not yet written, and their many-to-many links: see ``flush_together``.
        self.new_items: list[models.Model] = []
        self.new_links: list[tuple[models.Model, str, list]] = []
        self.check_kinds_allowed: dict[bool, bool] = {}
        self.created: list[models.Model] = []  # written by ``flush_together``, audited at the end

    @property
    def product_is_new(self) -> bool:
        return self.new_product is not None

    def stored(self, queryset) -> models.QuerySet | list:
        """The items stored so far, or none without a query when the product is new in this import."""
        return [] if self.product_is_new else queryset

    def fail(self, path: Path, message: str) -> None:
        self.errors.append(self.document.error(path, message))

    def steps(self) -> Iterator[None]:
        """The import, in steps: at each ``yield`` the caller writes the new items waiting (``flush_together``)."""
        if self.unchanged():
            return
        self.product = self.sync_product()
        if self.product is None:
            return
        goals = self.sync_goals()
        yield
        initiatives = self.sync_initiatives(goals)
        yield
        hypotheses = self.sync_hypotheses(goals, initiatives)
        yield
        self.sync_use_cases(hypotheses)
        self.sync_usage_patterns()
        outputs = self.sync_outputs()
        yield
        self.sync_columns_of(outputs)
        yield
        # Checks, KPIs and row filters validate their columns against these: read them once.
        models.prefetch_related_objects([each for each in outputs.values() if each is not None], "columns")
        self.sync_inputs()
        kpis = self.sync_kpis(goals, outputs)
        yield
        slos = self.sync_slos(kpis)
        self.sync_dashboards(kpis)
        yield
        self.sync_checks_and_row_filters(outputs, slos)
        yield
        self.delete_missing()
        self.sync_north_star(kpis)

    # --- Saving one item ----------------------------------------------------------------------

    def save(self, part: f.Part, obj, values: dict, path: Path, label: str, refs: dict | None = None, prepare=None):
        """Set ``obj``'s plain fields from ``values`` and its references; validate and save it only if it changed.

        ``prepare(obj)`` fills what the model's own ``save`` would (a check's default operator), so an
        unchanged item compares equal; it returns an error message when the user may not write it.
        A new part is validated now and written with the other new items of its step
        (``flush_together``); a new product is written at once, as its parts need its id.
        """
        is_new = obj.pk is None
        before = state(obj)
        ok = self.assign(part, obj, values, path)
        for name, value in (refs or {}).items():
            setattr(obj, name, value)
        if not ok:
            return None
        refused = prepare(obj) if prepare is not None else None
        after = state(obj)
        changed = [name for name in after if after[name] != before[name]]
        if not is_new and not changed:
            return obj
        if refused:
            self.fail(path, refused)
            return None
        if not self.full_clean(part, obj, path, unique=not (is_new and obj is self.new_product)):
            return None
        if is_new and obj is not self.new_product:
            self.new_items.append(obj)
            self.lines.append(f"+ {label}")
            return obj
        obj.save()
        if is_new:
            self.lines.append(f"+ {label}")
        else:
            changes = ", ".join(self.change_text(part, obj, name, before[name], after[name]) for name in changed)
            self.lines.append(f"~ {label}: {changes}")
        return obj

    def change_text(self, part: f.Part, obj, name: str, before, after) -> str:
        model = type(obj)
        return f"{self.key_of(part, name)} {shown_field(model, name, before)} → {shown_field(model, name, after)}"

    def assign(self, part: f.Part, obj, values: dict, path: Path) -> bool:
        ok = True
        for key in part.fields:
            model_field = part.model_field(key)
            raw = values.get(key, MISSING)
            try:
                value = model_field.get_default() if raw is MISSING else model_field.to_python(raw)
            except ValidationError as exc:
                self.fail((*path, key), " ".join(exc.messages))
                ok = False
                continue
            if isinstance(model_field, models.JSONField):
                value = plain_json(value)
            setattr(obj, model_field.attname, value)
        return ok

    def full_clean(self, part: f.Part, obj, path: Path, unique: bool = True) -> bool:
        """The model's own validation, so errors read as the forms' do, each at its key's path.

        References the importer resolved itself (the parent, a goal found by name) are not looked
        up again, and so neither are the unique keys they are part of: items are matched by their
        natural key within their parent, so a new item's key is free by construction.
        """
        try:
            obj.full_clean(exclude=resolved_references(obj), validate_unique=unique)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                where = path if name == NON_FIELD_ERRORS else self.path_of(part, name, path)
                for message in messages:
                    self.fail(where, message)
            return False
        return True

    def key_of(self, part: f.Part, name: str) -> str:
        attr_to_key = {attr: key for key, attr in part.fields.items()}
        return attr_to_key.get(name) or DOC_KEYS.get(name, name)

    def path_of(self, part: f.Part, name: str, path: Path) -> Path:
        if part.model is DataProduct:
            key = self.key_of(f.PRODUCT_METADATA, name)
            return (*SPEC, key) if key in f.PRODUCT_SPEC.fields or key == "north_star" else (*META, key)
        return (*path, self.key_of(part, name))

    def set_many(self, obj, name: str, targets: list, label: str) -> None:
        """Set a many-to-many field to ``targets`` if it differs (a new item's "+" line says it all)."""
        if obj.pk is None:  # a new item waiting for ``flush_together``: its links go in with it
            self.new_links.append((obj, name, targets))
            return
        manager = getattr(obj, name)
        current = list(manager.all())
        if {each.pk for each in current} == {each.pk for each in targets}:
            return
        manager.set(targets)
        names = lambda items: ", ".join(sorted(map(str, items))) or "(none)"  # noqa: E731
        self.lines.append(f"~ {label}: {name} {names(current)} → {names(targets)}")

    # --- Resolving names ----------------------------------------------------------------------

    def find(self, queryset: models.QuerySet, path: Path, noun: str, **lookup):
        """The one object ``lookup`` names, or an error naming the path."""
        value = next(iter(lookup.values()))
        obj = queryset.filter(**lookup).first()
        if obj is None:
            self.fail(path, f"no {noun} {value!r}")
        return obj

    def user_named(self, username: str, path: Path):
        if username not in self.users:
            self.users[username] = get_user_model().objects.filter(is_active=True, username=username).first()
        if self.users[username] is None:
            self.fail(path, f"no user {username!r}")
        return self.users[username]

    def named(self, path: Path, name: str, known: dict, noun: str):
        """The item of this spec ``name`` names (None if it failed to save), or an error."""
        if name not in known:
            self.fail(path, f"no {noun} {name!r} in this spec")
        return known.get(name)

    def named_items(self, path: Path, names: list[str], known: dict, noun: str) -> list:
        found = []
        for index, name in enumerate(names):
            if name in known and known[name] is not None:
                found.append(known[name])
            elif name not in known:
                self.fail((*path, index), f"no {noun} {name!r} in this spec")
        return found

    # --- The product --------------------------------------------------------------------------

    def sync_product(self) -> DataProduct | None:
        slug = self.meta["slug"]
        existing = self.shared.existing.get(slug)
        if not self.may_write(existing, slug):
            return None
        product = existing or DataProduct()
        # A new product's slug is free: the import looked all its slugs up at once and refuses repeats.
        self.new_product = product if existing is None else None
        if existing is not None:
            versions.ensure_baseline(existing)  # the semver rule then compares with what it was
        refs = self.product_refs(existing)
        if refs is None:
            return None
        values = {**self.meta, **{key: self.spec[key] for key in f.PRODUCT_SPEC.fields if key in self.spec}}
        part = f.Part("product", DataProduct, "slug", {**f.PRODUCT_METADATA.fields, **f.PRODUCT_SPEC.fields})
        if existing is None:
            refs["north_star"] = None
        move = self.lifecycle_move(existing, values, refs)
        saved = self.save(part, product, values, META, f"product {slug!r}", refs)
        if saved is None:
            return None
        if move is not None and not self.move_along(saved, *move):
            return None
        self.product_people_and_labels(saved, new=existing is None)
        return saved

    def lifecycle_move(self, existing: DataProduct | None, values: dict, refs: dict) -> tuple | None:
        """(status, sunset date, replacement) when the document moves an existing product along its lifecycle.

        The plain save then keeps the stored lifecycle fields, and ``move_along`` makes the move through
        ``lifecycle.change_status``, with its rules, audit event and emails, as every other path does.
        A new product simply starts in the status its document gives.
        """
        if existing is None:
            return None
        model_field = DataProduct._meta.get_field("sunset_date")
        try:
            sunset = model_field.to_python(values.get("sunset_date"))
        except ValidationError:
            return None  # the plain save reports the bad date at its path
        wanted = (values.get("status", existing.status), sunset, refs.get("replaced_by"))
        if wanted == (existing.status, existing.sunset_date, existing.replaced_by):
            return None
        values["status"], values["sunset_date"] = existing.status, existing.sunset_date
        refs["replaced_by"] = existing.replaced_by
        return wanted

    def move_along(self, product: DataProduct, status: str, sunset_date, replaced_by) -> bool:
        before = (product.status, product.sunset_date, product.replaced_by)
        try:
            lifecycle.change_status(product, status, by=self.user, sunset_date=sunset_date, replaced_by=replaced_by)
        except PermissionDenied as exc:
            self.fail((*META, "status"), str(exc))
            return False
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                for message in messages:
                    self.fail((*META, key if key in ("status", "sunset_date", "replaced_by") else "status"), message)
            return False
        after = (product.status, product.sunset_date, product.replaced_by)
        names = ("status", "sunset_date", "replaced_by")
        changes = [
            f"{name} {shown(old)} → {shown(new)}"
            for name, old, new in zip(names, before, after, strict=True)
            if old != new
        ]
        self.lines.append(f"~ product {product.slug!r}: " + ", ".join(changes))
        return True

    def unchanged(self) -> bool:
        """The document says what the product already is: nothing to write, so nothing to be allowed.

        A steward may export every spec, edit one and import the folder: the others, unchanged,
        must not fail for want of change permission. The product's own export is read back by the
        same loader, so both sides hold the same kinds of values (dates as text, exact decimals).
        """
        return self.shared.current.get(self.document.slug, MISSING) == self.document.data

    def may_write(self, existing: DataProduct | None, slug: str) -> bool:
        if existing is not None and not policy.can(self.user, policy.CHANGE, existing):
            self.fail((*META, "slug"), f"you may not change the product {slug!r}")
            return False
        if existing is None and not policy.can_add(self.user, DataProduct):
            self.fail((*META, "slug"), f"you may not create products (there is no product {slug!r} yet)")
            return False
        return True

    def product_refs(self, existing: DataProduct | None) -> dict | None:
        errors = len(self.errors)
        domains = self.shared.domains
        if self.meta["domain"] not in domains:
            domains[self.meta["domain"]] = Domain.objects.filter(slug=self.meta["domain"]).first()
        domain = domains[self.meta["domain"]]
        if domain is None:
            self.fail((*META, "domain"), f"no domain {self.meta['domain']!r}")
        owner = self.user_named(self.meta["owner"], (*META, "owner"))
        replaced_by = None
        if self.meta.get("replaced_by"):
            visible = DataProduct.objects.restrict(self.user, policy.VIEW)
            replaced_by = self.find(visible, (*META, "replaced_by"), "product", slug=self.meta["replaced_by"])
        if owner is not None:
            self.check_owner(existing, owner)
        if len(self.errors) > errors:
            return None
        return {"domain": domain, "owner": owner, "replaced_by": replaced_by}

    def check_owner(self, existing: DataProduct | None, owner) -> None:
        """The API's rule: only the owner or an admin hands a product on; only admins create one for another."""
        if existing is None and owner != self.user and not policy.has_model_perm(self.user, DataProduct, "change"):
            self.fail((*META, "owner"), "only admins may create a product for someone else")
        if existing is not None and owner.pk != existing.owner_id and not policy.can(self.user, "delete", existing):
            self.fail((*META, "owner"), "only the owner or an admin may hand the product to someone else")

    def product_people_and_labels(self, product: DataProduct, new: bool) -> None:
        label = f"product {product.slug!r}"
        lists = [
            ("stewards", self.users, get_user_model().objects.filter(is_active=True), "username", "user"),
            ("tags", self.shared.tags, Tag.objects.all(), "name", "tag"),
            ("consumer_teams", self.shared.teams, Team.objects.all(), "slug", "team"),
        ]
        for key, known, queryset, lookup, noun in lists:
            names = self.meta.get(key, [])
            unknown = [name for name in names if name not in known]
            if unknown:  # found once per import, like the users
                found = {getattr(obj, lookup): obj for obj in queryset.filter(**{f"{lookup}__in": unknown})}
                known |= {name: found.get(name) for name in unknown}
            for index, name in enumerate(names):
                if known[name] is None:
                    self.fail((*META, key, index), f"no {noun} {name!r}")
            targets = list({known[name].pk: known[name] for name in names if known[name] is not None}.values())
            if new:
                link_new(product, key, targets)
            else:
                self.set_many(product, key, targets, label)

    def sync_north_star(self, kpis: dict) -> None:
        name = self.spec.get("north_star")
        kpi = kpis.get(name) if name else None
        if name and name not in kpis:
            self.fail((*SPEC, "north_star"), f"no kpi {name!r} in this spec")
        if self.errors or kpi is None and name:
            return
        product = self.product
        if product.north_star_id == (kpi.pk if kpi else None):
            return
        before = shown(product.north_star.name if product.north_star_id else None)
        product.north_star = kpi
        if self.product_is_new:  # created in this import, audited and versioned as such: one UPDATE for all
            self.shared.north_stars.append(product)
            return
        if self.full_clean(f.PRODUCT_SPEC, product, SPEC):
            product.save()
            self.lines.append(f"~ product {product.slug!r}: north_star {before} → {shown(name)}")

    # --- Lists of items -----------------------------------------------------------------------

    def items(self, key: str, part: f.Part, path: Path = SPEC, data: dict | None = None) -> list[tuple[Path, dict]]:
        """The items of one list with their paths; a second item with the same key is an error."""
        result, seen = [], {}
        for index, item in enumerate((data if data is not None else self.spec).get(key, [])):
            item_path = (*path, key, index)
            name = item[part.key]
            if name in seen:
                self.fail((*item_path, part.key), f"a second {part.noun} {name!r} (the first is at index {seen[name]})")
                continue
            seen[name] = index
            result.append((item_path, item))
        return result

    def sync_list(self, key, part, existing, label, refs=None, ordered=False, path=SPEC, data=None, parent=None,
                  prepare=None):  # fmt: skip
        """Upsert one list of items by natural key; those left out are deleted at the end. Returns key → object.

        New items are validated now and written at the end of the step (``flush_together``).
        """
        entries = self.items(key, part, path, data)
        current = {getattr(obj, part.fields[part.key]): obj for obj in existing}
        if ordered:
            found = [current.get(item[part.key]) for _, item in entries]
            orders = positions([(obj.order, obj.pk) if obj else (None, None) for obj in found])
        result = {}
        for index, (item_path, item) in enumerate(entries):
            name = item[part.key]
            obj = current.get(name) or part.model(**(parent or {}))
            item_refs = refs(item_path, item) if refs else {}
            if item_refs is None:
                result[name] = None
                continue
            if ordered:
                item_refs["order"] = orders[index]
            m2m = item_refs.pop("_many", {})
            saved = self.save(part, obj, item, item_path, f"{label} {name!r}", item_refs, prepare)
            result[name] = saved
            for attr, targets in m2m.items():
                if saved is not None:
                    self.set_many(saved, attr, targets, f"{label} {name!r}")
        listed = {item[part.key] for _, item in entries}
        self.deletions += [(f"{label} {name!r}", obj) for name, obj in current.items() if name not in listed]
        return result

    def sync_goals(self) -> dict:
        goals = self.stored(self.product.goals.all())
        return self.sync_list("goals", f.GOAL, goals, "goal", ordered=True, parent={"product": self.product})

    def sync_initiatives(self, goals: dict) -> dict:
        def refs(path, item):
            return {"_many": {"goals": self.named_items((*path, "goals"), item.get("goals", []), goals, "goal")}}

        existing = self.stored(self.product.initiatives.all())
        return self.sync_list(
            "initiatives", f.INITIATIVE, existing, "initiative", refs, ordered=True, parent={"product": self.product}
        )

    def sync_hypotheses(self, goals: dict, initiatives: dict) -> dict:
        def refs(path, item):
            goal = self.named((*path, "goal"), item["goal"], goals, "goal")
            initiative = self.named((*path, "initiative"), item["initiative"], initiatives, "initiative")
            return {"goal": goal, "initiative": initiative} if goal and initiative else None

        existing = self.stored(self.product.hypotheses.all())
        return self.sync_list(
            "hypotheses", f.HYPOTHESIS, existing, "hypothesis", refs, parent={"product": self.product}
        )

    def sync_use_cases(self, hypotheses: dict) -> None:
        def refs(path, item):
            names = item.get("hypotheses", [])
            return {"_many": {"hypotheses": self.named_items((*path, "hypotheses"), names, hypotheses, "hypothesis")}}

        existing = self.stored(self.product.use_cases.all())
        self.sync_list("use_cases", f.USE_CASE, existing, "use case", refs, parent={"product": self.product})

    def sync_usage_patterns(self) -> None:
        existing = self.stored(self.product.usage_patterns.all())
        self.sync_list("usage_patterns", f.USAGE_PATTERN, existing, "usage pattern", parent={"product": self.product})

    # --- Outputs, their columns, checks and row filters ---------------------------------------

    def sync_outputs(self) -> dict:
        def refs(path, item):
            return {"connection": self.connection(path, item, current.get(item["name"]))}

        current = {output.name: output for output in self.stored(self.product.outputs.select_related("connection"))}
        outputs = self.sync_list(
            "outputs", f.OUTPUT, current.values(), "output", refs, parent={"product": self.product}
        )
        return outputs

    def sync_columns_of(self, outputs: dict) -> None:
        for path, item in self.items("outputs", f.OUTPUT):
            output = outputs.get(item["name"])
            if output is not None:
                self.sync_columns(output, path, item)

    def connection(self, path: Path, item: dict, output: Output | None) -> Connection | None:
        name = item.get("connection")
        if not name:
            return None
        if output is not None and output.connection_id and output.connection.name == name:
            return output.connection  # unchanged: no need to be allowed to pick it again
        usable = Connection.objects.restrict(self.user, policy.VIEW)
        return self.find(usable, (*path, "connection"), "connection you may use", name=name)

    def sync_columns(self, output: Output, path: Path, item: dict) -> None:
        label = f"output {output.name!r} column"
        queued, self.deletions = self.deletions, []
        self.sync_list(
            "columns", f.COLUMN, self.stored(output.columns.all()), label, ordered=True, path=path, data=item,
            parent={"output": output},
        )  # fmt: skip
        self.delete_now()  # a removed column must be gone before checks and KPIs are validated
        self.deletions = queued

    def sync_checks_and_row_filters(self, outputs: dict, slos: dict) -> None:
        for path, item in self.items("outputs", f.OUTPUT):
            output = outputs.get(item["name"])
            if output is not None:
                self.sync_checks(output, path, item, slos)
                self.sync_row_filters(output, path, item)

    def sync_checks(self, output: Output, path: Path, item: dict, slos: dict) -> None:
        from quality.models import Check

        def refs(check_path, check):
            return {"_many": {"slos": self.named_items((*check_path, "slos"), check.get("slos", []), slos, "slo")}}

        def prepare(check) -> str:
            check.sync_product()
            check.apply_defaults()
            # The rule depends on the product and on whether the check is custom SQL: ask once each.
            allowed, kind = self.check_kinds_allowed, check.check_type == CUSTOM_SQL
            if kind not in allowed:
                allowed[kind] = check.may_be_edited_by(self.user)
            return "" if allowed[kind] else "only admins may write custom SQL checks"

        label = f"output {output.name!r} check"
        self.sync_list(
            "checks", f.CHECK, self.stored(Check.objects.filter(output=output)), label, refs, path=path, data=item,
            parent={"output": output, "product": self.product}, prepare=prepare,
        )  # fmt: skip

    def sync_row_filters(self, output: Output, path: Path, item: dict) -> None:
        """Row filters have no name: a rule is kept when one with the same holder, column and values exists."""
        current = {}
        for rule in self.stored(output.row_filters.select_related("user", "group")):
            current.setdefault(self.rule_key(rule.user, rule.group, rule.column, rule.values), rule)
        listed = set()
        for index, rule in enumerate(item.get("row_filters", [])):
            rule_path = (*path, "row_filters", index)
            user, group = self.rule_holder(rule_path, rule)
            if user is None and group is None:
                continue
            key = self.rule_key(user, group, rule["column"], rule["values"])
            listed.add(key)
            if key not in current:
                obj = RowFilter(output=output, user=user, group=group)
                label = f"output {output.name!r} row filter {key[0]}"
                self.save(f.ROW_FILTER, obj, rule, rule_path, label)
        for key, rule in current.items():
            if key not in listed:
                self.deletions.append((f"output {output.name!r} row filter {key[0]}", rule))

    @staticmethod
    def rule_key(user, group, column: str, values: list) -> tuple:
        holder = f"user {user.get_username()!r}" if user is not None else f"group {group.name!r}"
        return (f"{holder} {column} in {values}", column, tuple(values))

    def rule_holder(self, path: Path, rule: dict) -> tuple:
        if "user" in rule:
            return self.user_named(rule["user"], (*path, "user")), None
        return None, self.find(Group.objects.all(), (*path, "group"), "group", name=rule["group"])

    # --- Inputs -------------------------------------------------------------------------------

    def sync_inputs(self) -> None:
        current = {}
        for item in self.stored(self.product.inputs.select_related("source_output__product")):
            current[self.input_key_of(item)] = item
        listed = set()
        for index, item in enumerate(self.spec.get("inputs", [])):
            path = (*SPEC, "inputs", index)
            key = f"output {item['output']!r}" if "output" in item else f"external {item['external']!r}"
            if key in listed:
                self.fail(path, f"a second input {key}")
                continue
            listed.add(key)
            self.sync_input(current.get(key), key, path, item)
        self.deletions += [(f"input {key}", obj) for key, obj in current.items() if key not in listed]

    @staticmethod
    def input_key_of(item: ProductInput) -> str:
        if item.source_output_id:
            return f"output {item.source_output.product.slug + '/' + item.source_output.name!r}"
        return f"external {item.external_name!r}"

    def sync_input(self, existing: ProductInput | None, key: str, path: Path, item: dict) -> None:
        obj = existing or ProductInput(product=self.product)
        if "external" in item:
            refs = {"kind": choices.InputKind.EXTERNAL, "external_name": item["external"], "source_output": None}
        elif existing is not None:
            refs = {"kind": choices.InputKind.OUTPUT}  # the same upstream output, found by its key
        else:
            slug, _, name = item["output"].partition("/")
            visible = Output.objects.restrict(self.user, policy.VIEW)
            source = visible.filter(product__slug=slug, name=name).select_related("product").first()
            if source is None:
                self.fail((*path, "output"), f"no output {item['output']!r} that you can see")
                return
            refs = {"kind": choices.InputKind.OUTPUT, "source_output": source, "external_name": ""}
        self.save(f.INPUT, obj, item, path, f"input {key[key.index(' ') + 1 :]}", refs)

    # --- KPIs and SLOs ------------------------------------------------------------------------

    def sync_kpis(self, goals: dict, outputs: dict) -> dict:
        entries = self.items("kpis", f.KPI_PART)
        order = self.kpis_parents_first(entries)
        current = {kpi.name: kpi for kpi in self.stored(self.product.kpis.all())}
        if entries and not order:  # a loop of parents: known names, none saved, no errors for their users
            return {item["name"]: None for _, item in entries}
        kpis = {}
        for path, item in order:
            refs = self.kpi_refs(path, item, kpis, goals, outputs)
            if refs is None:
                kpis[item["name"]] = None
                continue
            m2m = refs.pop("_many")
            obj = current.get(item["name"]) or KPI(product=self.product)
            saved = self.save(f.KPI_PART, obj, item, path, f"kpi {item['name']!r}", refs)
            kpis[item["name"]] = saved
            if saved is not None:
                self.set_many(saved, "goals", m2m, f"kpi {item['name']!r}")
        self.link_counter_metrics(order, kpis)
        listed = {item["name"] for _, item in entries}
        self.deletions += [(f"kpi {name!r}", obj) for name, obj in current.items() if name not in listed]
        return kpis

    def link_counter_metrics(self, order: list, kpis: dict) -> None:
        """Counter-metrics name other KPIs of the document, so they are linked once every KPI is known."""
        for path, item in order:
            saved = kpis.get(item["name"])
            names = item.get("counter_metrics", [])
            if item["name"] in names:
                self.fail((*path, "counter_metrics"), "a KPI cannot be its own counter-metric")
                continue
            targets = self.named_items((*path, "counter_metrics"), names, kpis, "kpi")
            if saved is not None and None not in targets:
                self.set_many(saved, "counter_metrics", targets, f"kpi {item['name']!r}")

    def kpis_parents_first(self, entries: list) -> list:
        """KPIs ordered so each parent comes before its children; a loop of parents is an error."""
        by_name = {item["name"]: (path, item) for path, item in entries}
        ordered, placed = [], set()
        for _path, item in entries:
            chain, name = [], item["name"]
            while name in by_name and name not in placed and name not in chain:
                chain.append(name)
                name = by_name[name][1].get("parent")
            if name in chain:
                loop = chain[chain.index(name) :] + [name]
                self.fail((*by_name[name][0], "parent"), "the parents loop: " + " → ".join(loop))
                return []
            for each in reversed(chain):
                placed.add(each)
                ordered.append(by_name[each])
        return ordered

    def kpi_refs(self, path: Path, item: dict, kpis: dict, goals: dict, outputs: dict) -> dict | None:
        errors = len(self.errors)
        refs = {"parent": None, "output": None, "owner": None}
        if item.get("parent"):
            refs["parent"] = self.named((*path, "parent"), item["parent"], kpis, "kpi")
        if item.get("output"):
            refs["output"] = self.named((*path, "output"), item["output"], outputs, "output")
        if item.get("owner"):
            refs["owner"] = self.user_named(item["owner"], (*path, "owner"))
        refs["_many"] = self.named_items((*path, "goals"), item.get("goals", []), goals, "goal")
        return None if len(self.errors) > errors else refs

    def sync_slos(self, kpis: dict) -> dict:
        def refs(path, item):
            if not item.get("kpi"):
                return {"kpi": None}
            kpi = self.named((*path, "kpi"), item["kpi"], kpis, "kpi")
            return {"kpi": kpi} if kpi else None

        existing = self.stored(self.product.slos.all())
        return self.sync_list("slos", f.SLO_PART, existing, "slo", refs, parent={"product": self.product})

    def sync_dashboards(self, kpis: dict) -> dict:
        def prepare(dashboard) -> None:
            dashboard.known_kpis = {name: kpi for name, kpi in kpis.items() if kpi is not None}

        existing = self.stored(self.product.dashboards.all())
        return self.sync_list(
            "dashboards", f.DASHBOARD, existing, "dashboard", ordered=True, parent={"product": self.product},
            prepare=prepare,
        )  # fmt: skip

    # --- Deleting what the document left out --------------------------------------------------

    def delete_missing(self) -> None:
        self.delete_now()

    def delete_now(self) -> None:
        """Delete the items queued so far, latest first (a use case before its hypotheses)."""
        while self.deletions:
            label, obj = self.deletions.pop()
            try:
                with transaction.atomic():
                    obj.delete()
            except (ProtectedError, IntegrityError) as exc:
                self.fail(SPEC, f"cannot delete {label}: {blockers(exc)}")
                continue
            self.lines.append(f"- {label}")


def blockers(exc: Exception) -> str:
    if isinstance(exc, ProtectedError):
        names = sorted({str(getattr(obj, "product", obj)) for obj in exc.protected_objects})
        return "other products read it (" + ", ".join(names) + "); remove their inputs first"
    return str(exc)


__all__ = ["ImportReport", "SLO", "import_documents"]
