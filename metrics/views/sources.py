"""Data sources: the metric stores a user connects, their own alone (anyone else gets a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Lower
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_data_source
from metrics.exceptions import DuplicateSource, SourceInUse
from metrics.forms import DataSourceForm
from metrics.models import DataSource, Metric


@require_safe
def source_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    # Ordered here: a query that counts (GROUP BY) leaves the model's ordering out.
    sources = DataSource.objects.visible_to(request.user).annotate(bound=Count("queries")).order_by(Lower("name"), "pk")
    return render(request, "metrics/source_list.html", {"sources": sources})


@require_safe
def source_detail(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    source = get_data_source(request.user, source_id)
    context = {"source": source, "bound": Metric.objects.filter(store_query__source=source).order_by("name", "pk")}
    return render(request, "metrics/source_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_post_parameters("secret")
def source_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    return edit(request, DataSource(owner=request.user))


@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_post_parameters("secret")
def source_edit(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    if request.method == "POST":
        # Saved with the row locked: a source deleted meanwhile is a 404, not saved back.
        with transaction.atomic():
            return edit(request, get_data_source(request.user, source_id, lock=True))
    return edit(request, get_data_source(request.user, source_id))


def edit(request: AuthenticatedHttpRequest, source: DataSource) -> HttpResponse:
    """The source's form: its kind, where it is, its credentials (the secret write-only)."""
    creating = source.pk is None
    form = DataSourceForm(request.POST or None, instance=source, localize_numbers=True)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            source = form.save(commit=False)
            try:
                source.add() if creating else source.save()
            except DuplicateSource as refusal:
                form.add_error("name", str(refusal))
            else:
                if creating:
                    message = _("Data source “%(name)s” added: test its connection.")
                else:
                    message = _("Data source “%(name)s” saved.")
                messages.success(request, message % {"name": source.name})
                return redirect("metrics:source", source.pk)
        status = 400
    context = {
        "form": form,
        "source": source,
        "creating": creating,
        # For the page's script: which credentials each kind takes.
        "auths_of_kind": {str(kind): [str(auth) for auth in auths] for kind, auths in form.credentials().items()},
    }
    return render(request, "metrics/source_form.html", context, status=status)


@require_POST
def source_delete(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    source = get_data_source(request.user, source_id)
    try:
        source.delete()
    except SourceInUse as refusal:
        messages.error(request, str(refusal))
        return redirect("metrics:source", source.pk)
    messages.success(request, _("Data source “%(name)s” deleted.") % {"name": source.name})
    return redirect("metrics:sources")


@require_POST
def source_test(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    """The "Test connection" button: asks the store, and says what came of it in plain words."""
    source = get_data_source(request.user, source_id)
    source.check_connection()
    (messages.success if source.is_working else messages.error)(request, source.check_words)
    return redirect("metrics:source", source.pk)
