"""Designing and editing a product: the create flow, the steward's forms, and deletion.

Permissions come from the policy only (``access.policy``): creating needs ``can_add``,
editing ``change`` and deleting ``delete`` on the product. Every save runs in one
transaction that is rolled back if the product would fall outside the user's reach
(after NetBox ``ObjectEditView.post``).

The create flow walks the seeds' right-to-left order: step 1 makes a draft from its
north star and vision; each later step is the section editor for that part of the
spec, with "Save and continue" and "Skip".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import CreateView, DeleteView, TemplateView, UpdateView
from django.views.generic.detail import SingleObjectMixin

from access import policy
from access.views import RestrictedObjectMixin

from . import review, semver, versions
from .forms import SECTIONS, DataProductCreateForm, DataProductForm, Section
from .models import DataProduct, Output

FLOW_PARAM = "flow"
FLOW_VALUE = "new"


OUT_OF_REACH_MESSAGE = "After this change you could no longer see this product, so nothing was saved."


def save_within_reach(user, save: Callable[[], DataProduct]) -> DataProduct | None:
    """The policy's save_within_reach, with None instead of an exception when the save was rolled back."""
    try:
        return policy.save_within_reach(user, save)
    except policy.OutOfReach:
        return None


# --- The create flow ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    sections: tuple[str, ...]


STEPS = (
    Step(1, "North star and vision", ()),
    Step(2, "Goals", ("goals",)),
    Step(3, "Initiatives and hypotheses", ("initiatives", "hypotheses")),
    Step(4, "Use cases and usage", ("use-cases", "usage-patterns")),
    Step(5, "KPIs and SLOs", ("kpis", "slos")),
    Step(6, "Outputs and sources", ("outputs", "columns", "inputs")),
)
FLOW_SECTIONS = [section for step in STEPS for section in step.sections]


def step_of(section: str | None) -> Step:
    return next((step for step in STEPS if section in step.sections), STEPS[0])


def flow_url(product: DataProduct, section: str | None = None, **params) -> str:
    """A page of the create flow for ``product``: its edit form (step 1) or a section."""
    if section is None:
        url = reverse("products:edit", kwargs={"slug": product.slug})
    else:
        url = reverse("products:edit-section", kwargs={"slug": product.slug, "section": section})
    return f"{url}?{urlencode({FLOW_PARAM: FLOW_VALUE, **params})}"


def next_in_flow(product: DataProduct, section: str | None, output: Output | None = None) -> str:
    """Where "Save and continue" (or "Skip") leads from ``section``; the product page after the last."""
    if section == "columns" and output is not None:
        later = product.outputs.filter(name__gt=output.name).order_by("name").first()
        if later is not None:
            return flow_url(product, "columns", output=later.pk)
    position = FLOW_SECTIONS.index(section) + 1 if section else 0
    if position < len(FLOW_SECTIONS):
        return flow_url(product, FLOW_SECTIONS[position])
    return product.get_absolute_url()


def progress(product: DataProduct | None, section: str | None) -> list[dict]:
    """The six steps for the progress indicator: title, state (done/current/todo) and a link once a draft exists."""
    current = step_of(section).number
    steps = []
    for step in STEPS:
        state = "done" if step.number < current else "current" if step.number == current else "todo"
        url = flow_url(product, step.sections[0] if step.sections else None) if product else ""
        steps.append({"step": step, "state": state, "url": url})
    return steps


class FlowMixin:
    """Context for a page that may be part of the create flow (``?flow=new``)."""

    section_name: str | None = None

    @property
    def in_flow(self) -> bool:
        return self.request.GET.get(FLOW_PARAM) == FLOW_VALUE

    def flow_context(self, product: DataProduct | None) -> dict:
        if not self.in_flow and product is not None:
            return {"in_flow": False}
        step = step_of(self.section_name)
        return {
            "in_flow": True,
            "flow_step": step,
            "flow_steps": progress(product, self.section_name),
            "flow_total": len(STEPS),
            "flow_part": (step.sections.index(self.section_name) + 1) if self.section_name in step.sections else 0,
        }


class ProductCreateView(FlowMixin, CreateView):
    """Step 1 of the flow: the north star and vision, then the product's name. Creates a draft."""

    model = DataProduct
    form_class = DataProductCreateForm
    template_name = "products/dataproduct_create.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not policy.can_add(request.user, DataProduct):
            raise PermissionDenied("Only product managers may design a new product.")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), **self.flow_context(None)}

    def form_valid(self, form: DataProductCreateForm) -> HttpResponse:
        product = save_within_reach(self.request.user, form.save)
        if product is None:
            form.add_error(None, OUT_OF_REACH_MESSAGE)
            return self.form_invalid(form)
        self.object = product
        messages.success(self.request, f"Draft “{product.name}” created. Next: the goals that deliver on its vision.")
        return HttpResponseRedirect(next_in_flow(product, None))


# --- Editing --------------------------------------------------------------------------------


class ProductObjectMixin(RestrictedObjectMixin):
    """The product named in the URL, through the policy: 404 if unseen, 403 without ``action``."""

    model = DataProduct
    action = policy.CHANGE
    context_object_name = "product"

    def get_queryset(self) -> QuerySet:
        return DataProduct.objects.select_related("domain", "owner")


class ProductEditView(FlowMixin, ProductObjectMixin, UpdateView):
    """The product's own fields; links to each section of its spec."""

    form_class = DataProductForm
    template_name = "products/dataproduct_form.html"

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["sections"] = list(SECTIONS.values())
        context["can_delete"] = policy.can(self.request.user, policy.DELETE, self.object)
        return {**context, **self.flow_context(self.object)}

    def form_valid(self, form: DataProductForm) -> HttpResponse:
        if "owner" in form.changed_data:
            return self.hand_over(form)
        if review.must_review(self.object, self.request.user):
            return self.propose(form)
        try:
            saved = save_within_reach(self.request.user, lambda: versions.within_semver(self.object, form.save))
        except semver.BreakingChange as exc:
            form.add_error("version", exc.messages[0])
            return self.form_invalid(form)
        if saved is None:
            form.add_error(None, OUT_OF_REACH_MESSAGE)
            return self.form_invalid(form)
        if self.in_flow:
            return HttpResponseRedirect(next_in_flow(self.object, None))
        messages.success(self.request, f"Saved “{self.object.name}”.")
        return HttpResponseRedirect(self.object.get_absolute_url())

    def propose(self, form: DataProductForm) -> HttpResponse:
        try:
            change = review.propose(self.object, self.request.user, form.save, "Edited the product's details")
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Your change was sent to the product's owner for review.")
        return HttpResponseRedirect(change.get_absolute_url())

    def hand_over(self, form: DataProductForm) -> HttpResponse:
        """Giving a product to a new owner is the owner's right, even if it leaves them without access."""
        with transaction.atomic():
            product = form.save()
        messages.success(self.request, f"Saved “{product.name}”; {product.owner.get_username()} now owns it.")
        if policy.can(self.request.user, policy.VIEW, product):
            return HttpResponseRedirect(product.get_absolute_url())
        return HttpResponseRedirect(reverse("catalog:home"))


class ProductSectionEditView(FlowMixin, ProductObjectMixin, SingleObjectMixin, TemplateView):
    """One section of the spec as an inline formset; one bad row saves nothing."""

    template_name = "products/section_form.html"

    def setup(self, request: HttpRequest, *args, **kwargs) -> None:
        super().setup(request, *args, **kwargs)
        self.section_name = kwargs["section"]

    @property
    def section(self) -> Section:
        try:
            return SECTIONS[self.section_name]
        except KeyError:
            raise Http404(f"No section {self.section_name!r}.") from None

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        section = self.section  # an unknown section is a 404 before anything else
        self.object = self.get_object()
        self.output = self.get_output() if section.parent == "output" else None
        return super().dispatch(request, *args, **kwargs)

    def get_output(self) -> Output | None:
        """For the columns section: the output named by ``?output=``, else the product's first."""
        outputs = policy.restrict(Output.objects.filter(product=self.object), self.request.user)
        wanted = self.request.GET.get("output")
        if wanted:
            if not wanted.isdigit():
                raise Http404("No such output.")
            return get_object_or_404(outputs, pk=wanted)
        return outputs.order_by("name").first()

    def get_formset(self):
        parent = self.output if self.section.parent == "output" else self.object
        if parent is None:
            return None
        data = self.request.POST if self.request.method == "POST" else None
        return self.section.formset(data, instance=parent, user=self.request.user, product=self.object)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self.render_to_response(self.get_context_data(formset=self.get_formset()))

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        formset = self.get_formset()
        if formset is None:
            raise Http404("Add an output before its columns.")
        breaking = None
        if formset.is_valid():
            if review.must_review(self.object, request.user):
                return self.propose(formset)
            try:  # the semver rule: a breaking change without a major bump rolls back (products.semver)
                saved = save_within_reach(
                    request.user, lambda: versions.within_semver(self.object, lambda: self.save(formset))
                )
            except semver.BreakingChange as exc:
                breaking = exc
                formset._non_form_errors.append(exc.messages[0])
            else:
                if saved is not None:
                    return self.saved()
                formset._non_form_errors.append(OUT_OF_REACH_MESSAGE)
        return self.render_to_response(self.get_context_data(formset=formset, breaking=breaking))

    def save(self, formset) -> DataProduct:
        formset.save()
        fields = ["updated"]
        new_version = self.request.POST.get("new_version", "").strip()
        if new_version:  # the major bump a breaking change asks for, entered beside the formset
            self.object.version = new_version[:40]
            fields.append("version")
        self.object.save(update_fields=fields)
        return self.object

    def propose(self, formset) -> HttpResponse:
        """A steward's edit of a product under review: a change request for its owner, nothing applied."""
        message = f"Edited {self.section.title.lower()}"
        try:
            change = review.propose(self.object, self.request.user, lambda: self.save(formset), message)
        except ValidationError as exc:
            formset._non_form_errors.extend(exc.messages)
            return self.render_to_response(self.get_context_data(formset=formset))
        messages.success(self.request, "Your change was sent to the product's owner for review.")
        return HttpResponseRedirect(change.get_absolute_url())

    def saved(self) -> HttpResponse:
        if self.in_flow:
            return HttpResponseRedirect(next_in_flow(self.object, self.section_name, self.output))
        where = f"{self.section.title} of “{self.object.name}”"
        if self.output is not None:
            where = f"Columns of {self.output.name}"
        messages.success(self.request, f"Saved the {where[0].lower()}{where[1:]}.")
        return HttpResponseRedirect(self.object.get_absolute_url())

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context.update(section=self.section, output=self.output, sections=list(SECTIONS.values()))
        if self.section.parent == "output":
            context["outputs"] = Output.objects.filter(product=self.object).order_by("name")
        context.update(self.flow_context(self.object))
        if context["in_flow"]:
            context["skip_url"] = next_in_flow(self.object, self.section_name, self.output)
        return context


class ProductDeleteView(ProductObjectMixin, DeleteView):
    """Deleting a product takes its whole spec with it; its owner or an admin may do it."""

    action = policy.DELETE
    template_name = "products/dataproduct_confirm_delete.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["downstream"] = policy.restrict(self.object.downstream_products(), self.request.user)
        return context

    def form_valid(self, form) -> HttpResponse:
        name = self.object.name
        try:
            with transaction.atomic():
                self.object.delete()
        except ProtectedError:
            messages.error(
                self.request,
                f"“{name}” cannot be deleted while other products read its outputs. Remove those inputs first.",
            )
            return HttpResponseRedirect(self.request.path)
        messages.success(self.request, f"Deleted “{name}”.")
        return HttpResponseRedirect(reverse("catalog:home"))
