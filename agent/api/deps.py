"""Dependencies of the routes: the typed state, the caps on concurrent work and the API
key with its scope (a question's key holds a slot of the questions' cap)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.api.keys import ApiKey, ApiKeyStore, Scope
from agent.api.limits import QUESTION_RETRY_AFTER_S, ApiLimits, too_busy
from agent.api.state import ApiState


def _state(request: Request) -> ApiState:
    return cast(ApiState, request.state.vigil)


def _limits(request: Request) -> ApiLimits:
    return cast(ApiLimits, request.state.limits)


State = Annotated[ApiState, Depends(_state)]
Limits = Annotated[ApiLimits, Depends(_limits)]

_bearer = HTTPBearer(
    auto_error=False, description="An API key (`vigil keys create`) as a bearer token."
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def _api_key(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    if credentials is None:
        raise HTTPException(401, "an API key is required: Authorization: Bearer vk_…", _CHALLENGE)
    key = await ApiKeyStore(state.client, state.keys).lookup(credentials.credentials)
    if key is None:
        raise HTTPException(401, "unknown or revoked API key", _CHALLENGE)
    return key


async def require_read(key: Annotated[ApiKey, Depends(_api_key)]) -> ApiKey:
    return key


async def require_admin(key: Annotated[ApiKey, Depends(_api_key)]) -> ApiKey:
    if not key.scope.grants(Scope.ADMIN):
        raise HTTPException(403, f"API key {key.id} has the read scope; this needs admin")
    return key


ReadKey = Annotated[ApiKey, Depends(require_read)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]


async def _question_slot(limits: Limits, key: ReadKey) -> AsyncIterator[ApiKey]:
    """The caller's key, holding one of the slots of questions (ask, search) for the
    request; 429 when the key's or the API's are all taken."""
    if not limits.questions.take(key.id):
        slots = limits.questions
        detail = (
            f"{slots.held(key.id)} questions of this key and {slots.held()} in all are being "
            f"answered (api.questions_max_per_key {slots.per_owner}, api.questions_max "
            f"{slots.total}); try again shortly"
        )
        raise too_busy(detail, QUESTION_RETRY_AFTER_S)
    try:
        yield key
    finally:
        limits.questions.give_back(key.id)


QuestionKey = Annotated[ApiKey, Depends(_question_slot)]
