"""Operations: `GET /livez` (always open: the process answers), `GET /healthz` for probes and
`GET /metrics` for Prometheus (these two need a key with NEWSSTREAM_API_PROTECT_OPERATIONS, see
guards.OperationsGuard)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from prometheus_client import CONTENT_TYPE_LATEST

from newsstream.api.context import Context
from newsstream.api.health import Health, check_health

router = APIRouter(tags=["operations"])


class Alive(BaseModel):
    status: Literal["alive"] = "alive"


@router.get("/livez", response_model=Alive)
async def livez() -> Alive:
    """200 while the process serves requests; asks nothing of Kafka or Elasticsearch and needs no key."""
    return Alive()


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "Kafka or Elasticsearch is unreachable"}})
def healthz(context: Context, response: Response) -> Health:
    """200 while the API can reach Kafka and Elasticsearch (status `degraded` when no worker runs), else 503."""
    health = check_health(context.settings, context.es)
    if health.status == "down":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return health


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(context: Context) -> Response:
    """Requests by route and status, their latency, searches answered and articles ingested."""
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
