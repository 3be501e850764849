"""The access pages: the actions of the product page's Access section, "My access" and the permissions page.

Every action is a POST that calls ``access.grants`` (which asks the policy: 404 for an output the
user may not see, 403 for one they see but may not manage), then redirects back with a message;
bad input changes nothing and the message names the field.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms.utils import pretty_name
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView, View
from guardian.shortcuts import assign_perm, remove_perm

from . import audit, grants, permissions_table, policy
from .forms import AccessRequestForm, DecisionForm, GrantForm, ManagerForm, PermissionSearchForm, RemovePermissionForm
from .models import AccessGrant, AccessRequest, AuditAction
from .readable import delegates, may_delegate, readable_model, root_model, with_objects

PAGE_SIZE = 50


def output_or_404(user, pk: int):
    queryset = readable_model()._default_manager.select_related("product")
    return policy.get_visible_or_404(queryset, user, pk=pk)


def section_url(obj) -> str:
    """The Access section of the product page ``obj`` belongs to."""
    return audit.product_of(obj).get_absolute_url() + "#access"


def error_message(exc: ValidationError, form=None) -> str:
    """Nothing was changed: each error with the name of its field."""
    parts = []
    for field, errors in getattr(exc, "message_dict", {"": exc.messages}).items():
        label = form.fields[field].label if form is not None and field in form.fields else None
        prefix = f"{label or pretty_name(field)}: " if field not in ("", NON_FIELD_ERRORS) else ""
        parts.extend(prefix + error for error in errors)
    return "Nothing was changed. " + " ".join(parts)


def form_error(form) -> ValidationError:
    return ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})


class ActionView(View):
    """A POST that does one thing and goes back (to ``next`` if it is on this site) with a message."""

    http_method_names = ["post"]
    form_class = None

    def post(self, request: HttpRequest, **kwargs) -> HttpResponse:
        target = self.target(**kwargs)  # 404 before anything else
        form = self.form_class(request.POST) if self.form_class else None
        try:
            if form is not None and not form.is_valid():
                raise form_error(form)
            messages.success(request, self.perform(target, form.cleaned_data if form is not None else {}))
        except ValidationError as exc:
            messages.error(request, error_message(exc, form))
        return self.back(target)

    def back(self, target) -> HttpResponse:
        wanted = self.request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(wanted, {self.request.get_host()}, self.request.is_secure()):
            return HttpResponseRedirect(wanted)
        return HttpResponseRedirect(self.default_back(target))

    def default_back(self, target) -> str:
        return section_url(target)

    def target(self, **kwargs):
        raise NotImplementedError

    def perform(self, target, data: dict) -> str:
        raise NotImplementedError


class RequestCreateView(ActionView):
    form_class = AccessRequestForm

    def target(self, pk: int):
        return output_or_404(self.request.user, pk)

    def perform(self, output, data: dict) -> str:
        grants.request_access(output, requester=self.request.user, **data)
        return f"Your request to read {output.name} was sent to the people who manage its access."


class RequestActionView(ActionView):
    def target(self, pk: int) -> AccessRequest:
        return get_object_or_404(AccessRequest, pk=pk)

    def default_back(self, target: AccessRequest) -> str:
        return section_url(target.content_object)


class ApproveView(RequestActionView):
    form_class = DecisionForm

    def perform(self, access_request: AccessRequest, data: dict) -> str:
        grants.approve(access_request, by=self.request.user, comment=data["comment"])
        return f"Approved: {access_request.requester} may read {access_request.content_object.name}."


class DenyView(RequestActionView):
    form_class = DecisionForm

    def perform(self, access_request: AccessRequest, data: dict) -> str:
        grants.deny(access_request, by=self.request.user, comment=data["comment"])
        return f"Denied the request of {access_request.requester}; they were told why."


class WithdrawView(RequestActionView):
    def target(self, pk: int) -> AccessRequest:
        return get_object_or_404(AccessRequest, pk=pk, requester=self.request.user)

    def default_back(self, target: AccessRequest) -> str:
        return reverse("access:mine")

    def perform(self, access_request: AccessRequest, data: dict) -> str:
        grants.withdraw(access_request, by=self.request.user)
        return "Withdrew your request."


class GrantCreateView(ActionView):
    """Grant on one of a product's outputs: the output is chosen in the form, among those the user may see."""

    def target(self, pk: int):
        return policy.get_visible_or_404(root_model()._default_manager.all(), self.request.user, pk=pk)

    def default_back(self, product) -> str:
        return product.get_absolute_url() + "#access"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        product = self.target(pk)
        if not policy.can_manage_access(request.user, product):
            raise PermissionDenied("You may not manage access to this product.")
        outputs = policy.restrict(readable_model()._default_manager.filter(product=product), request.user)
        form = GrantForm(request.POST, outputs=outputs)
        try:
            if not form.is_valid():
                raise form_error(form)
            data = form.cleaned_data
            holder = {"user": data["user"]} if data["user"] else {"group": data["group"]}
            grants.grant(data["output"], **holder, level=data["level"], days=data["days"], by=request.user,
                         reason=data["reason"])  # fmt: skip
            messages.success(request, f"Granted {data['output'].name} to {holder.get('user') or holder['group']}.")
        except ValidationError as exc:
            messages.error(request, error_message(exc, form))
        return self.back(product)


class RevokeView(ActionView):
    def target(self, pk: int) -> AccessGrant:
        return get_object_or_404(AccessGrant, pk=pk)

    def default_back(self, grant: AccessGrant) -> str:
        return section_url(grant.content_object)

    def perform(self, grant: AccessGrant, data: dict) -> str:
        grants.revoke(grant, by=self.request.user)
        return f"Revoked: {grant.holder} no longer reads {grant.content_object.name}."


class RemovePermissionView(ActionView):
    """Take away a permanent read permission given in the admin (guardian), with an audit event."""

    form_class = RemovePermissionForm

    def target(self, pk: int):
        output = output_or_404(self.request.user, pk)
        grants.require_manager(self.request.user, output)
        return output

    def perform(self, output, data: dict) -> str:
        model = get_user_model() if data["holder"] == "user" else Group
        holder = model.objects.filter(pk=data["holder_id"]).first()
        if holder is None:
            raise ValidationError({"holder_id": f"No such {data['holder']}."})
        with transaction.atomic():
            remove_perm(data["permission"], holder, output)
            details = {data["holder"]: str(holder), "permission": data["permission"]}
            audit.record(AuditAction.PERMISSION_REMOVED, actor=self.request.user, obj=output, details=details)
        return f"Removed {data['permission']} on {output.name} from {holder}."


class ManagerToggleView(ActionView):
    """The owner (or an admin) lets a steward manage access to the product, or stops them."""

    form_class = ManagerForm

    def target(self, pk: int, user_id: int):
        product = policy.get_visible_or_404(root_model()._default_manager.all(), self.request.user, pk=pk)
        if not may_delegate(self.request.user, product):
            raise PermissionDenied("Only the owner or an admin decides who manages access.")
        steward = next((person for person in delegates(product) if person.pk == user_id), None)
        if steward is None:
            raise Http404("No such steward of this product.")
        self.steward = steward
        return product

    def default_back(self, product) -> str:
        return product.get_absolute_url() + "#access"

    def perform(self, product, data: dict) -> str:
        steward = self.steward
        with transaction.atomic():
            if data["may_manage"]:
                assign_perm(policy.MANAGE_ACCESS, steward, product)
                action, text = AuditAction.MANAGER_ADDED, f"{steward} now manages access to {product}."
            else:
                remove_perm(policy.MANAGE_ACCESS, steward, product)
                action, text = AuditAction.MANAGER_REMOVED, f"{steward} no longer manages access to {product}."
            audit.record(action, actor=self.request.user, obj=product, details={"user": steward.get_username()})
        return text


class MyAccessView(TemplateView):
    """The signed-in user's requests and grants (their own and their groups'), newest first."""

    template_name = "access/access_mine.html"

    def get_context_data(self, **kwargs) -> dict:
        user = self.request.user
        requests_ = AccessRequest.objects.filter(requester=user).select_related("decided_by")
        held = AccessGrant.objects.held_by(user).select_related("user", "group", "granted_by")
        return super().get_context_data(requests=with_objects(requests_), grants=with_objects(held), **kwargs)


class PermissionsView(TemplateView):
    """Who can read what across the hub: for admins and holders of the model-wide manage_access only."""

    template_name = "access/permissions.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not policy.manages_all(request.user, root_model()):
            raise PermissionDenied("Only admins and hub-wide access managers see every permission.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        form = PermissionSearchForm(self.request.GET)
        search = form.cleaned_data if form.is_valid() else {}
        rows = permissions_table.rows(**{key: value.strip() for key, value in search.items() if value})
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        page_query = query.urlencode() + "&" if query else ""
        return super().get_context_data(
            form=form, page_obj=page, rows=page.object_list, page_query=page_query, **kwargs
        )
