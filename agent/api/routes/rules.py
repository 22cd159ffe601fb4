"""/v1/rules: workers read rules for every window, so a change applies to the next one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from agent.api.deps import AdminKey, ReadKey, State
from agent.api.errors import responses
from agent.pipeline.rules import RULE_ID_PATTERN, Rule
from agent.pipeline.rules_store import RuleStore

router = APIRouter(prefix="/v1/rules", tags=["rules"], responses=responses(401, 403, 404))
RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("")
async def list_rules(state: State, _: ReadKey) -> list[Rule]:
    return await RuleStore(state.client, state.keys).all()


@router.post("", status_code=201, responses=responses(409, 422))
async def create_rule(state: State, _: AdminKey, rule: Rule) -> Rule:
    if not await RuleStore(state.client, state.keys).add(rule):
        raise HTTPException(409, f"rule {rule.id} exists")
    return rule


@router.get("/{rule_id}", responses=responses(422))
async def get_rule(state: State, _: ReadKey, rule_id: RuleId) -> Rule:
    rule = await RuleStore(state.client, state.keys).get(rule_id)
    if rule is None:
        raise HTTPException(404, f"no rule {rule_id}")
    return rule


@router.put("/{rule_id}", responses=responses(422))
async def replace_rule(state: State, _: AdminKey, rule_id: RuleId, rule: Rule) -> Rule:
    """Replaces the rule (creating it when absent); the body's id must be the path's."""
    if rule.id != rule_id:
        raise HTTPException(422, f"the body's id {rule.id!r} is not the path's {rule_id!r}")
    await RuleStore(state.client, state.keys).put(rule)
    return rule


@router.delete("/{rule_id}", status_code=204, responses=responses(422))
async def delete_rule(state: State, _: AdminKey, rule_id: RuleId) -> Response:
    if not await RuleStore(state.client, state.keys).delete(rule_id):
        raise HTTPException(404, f"no rule {rule_id}")
    return Response(status_code=204)
