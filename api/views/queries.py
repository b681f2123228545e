"""A metric's production query: binding it to one of the caller's data sources, and its preview."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers.queries import MetricQuerySerializer, PreviewInputSerializer, PreviewSerializer
from api.views.common import UnderMetric, answer, caller, checked, request_body
from metrics.access import get_metric_for_binding
from metrics.models import Metric, MetricQuery

NOT_BOUND = OpenApiResponse(description="The metric is not bound to a data source.")
NOT_OWNER = OpenApiResponse(description="Only the metric's owner may see, change or preview its query.")


def bound_query(metric: Metric) -> MetricQuery:
    query = metric.bound_query()
    if query is None:
        raise exceptions.NotFound(_("“%(name)s” is not bound to a data source.") % {"name": metric.name})
    return query


class MetricQueryDetail(UnderMetric):
    @extend_schema(responses={200: MetricQuerySerializer, 403: NOT_OWNER, 404: NOT_BOUND})
    def get(self, request: Request, metric_id: int) -> Response:
        """The metric's production query (its owner only: the source is theirs alone)."""
        return answer(MetricQuerySerializer, bound_query(get_metric_for_binding(request.user, metric_id)), request)

    @extend_schema(request=MetricQuerySerializer, responses={200: MetricQuerySerializer, 403: NOT_OWNER})
    def put(self, request: Request, metric_id: int) -> Response:
        """Bind the metric to one of the caller's data sources with this query, in place of the
        one it had (its owner only); what is not sent takes its default."""
        metric = get_metric_for_binding(request.user, metric_id)
        serializer = MetricQuerySerializer(
            MetricQuery(metric=metric), data=request_body(request), context={"request": request}
        )
        fields = dict(checked(serializer))
        metric.bind(fields.pop("source"), caller(request), **fields)
        return answer(MetricQuerySerializer, bound_query(metric), request)

    @extend_schema(responses={204: None, 403: NOT_OWNER, 404: NOT_BOUND})
    def delete(self, request: Request, metric_id: int) -> Response:
        """Stop reading the metric from its data source (its owner only)."""
        metric = get_metric_for_binding(request.user, metric_id)
        if not metric.unbind(caller(request)):
            bound_query(metric)  # not bound: a 404 saying so
        return Response(status=status.HTTP_204_NO_CONTENT)


class MetricQueryPreview(UnderMetric):
    @extend_schema(
        request=PreviewInputSerializer,
        responses={200: PreviewSerializer, 403: NOT_OWNER, 404: NOT_BOUND},
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """What the metric's query gives now, as for a release with this key, version and window
        (its owner only). A store that cannot give one value is an answer too: `value` null, and
        the reason."""
        query = bound_query(get_metric_for_binding(request.user, metric_id))
        variables = PreviewInputSerializer(data=request_body(request, optional=True))
        checked(variables)
        return answer(PreviewSerializer, query.preview(variables.variables()), request)
