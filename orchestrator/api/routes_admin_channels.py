"""Admin routes for the upstream channels: list them with their load and breaker, change them."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from orchestrator.api.context import Context
from orchestrator.api.errors import error_responses
from orchestrator.api.routes_admin import BODY, ERRORS, require_admin
from orchestrator.ops import channel_admin
from schemas.admin import ChannelUpdate, ChannelView

router = APIRouter(
    prefix="/admin/v1/channels", tags=["admin"], responses=ERRORS, dependencies=[Depends(require_admin)]
)


@router.get("", response_model=list[ChannelView], summary="Every channel, its load and its breaker")
def list_channels(context: Context) -> list[ChannelView]:
    with context.db.transaction() as session:
        return channel_admin.list_channels(session, context.settings)


@router.patch(
    "/{provider}/{name}",
    response_model=ChannelView,
    summary="Enable, disable, weigh or cap a channel",
    responses=error_responses(*BODY, 404),
)
def update_channel(provider: str, name: str, body: ChannelUpdate, context: Context) -> ChannelView:
    with context.db.transaction() as session:
        channel_admin.update_channel(
            session, context.settings, provider, name, body.model_dump(exclude_unset=True)
        )
        views = channel_admin.list_channels(session, context.settings)
    return next(view for view in views if (view.provider, view.name) == (provider, name))
