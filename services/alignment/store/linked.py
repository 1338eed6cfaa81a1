"""Which campaigns serve which objectives as of a moment: the one query behind the plan's
links (`store.read`) and the facts of a few objectives (`store.facts`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select

from truenorth.alignment.store import tables as t

if TYPE_CHECKING:  # store.read reads the plan with these links
    from truenorth.alignment.store.read import Moment


def links_at(
    workspace: str,
    moment: Moment,
    objective_ids: Sequence[str] | None = None,
    campaign_ids: Sequence[str] | None = None,
) -> Select[Any]:
    """(campaign_id, objective_id) of the links that held at the moment (of `objective_ids`,
    of `campaign_ids` alone, if given): live, the open ones; in the past, those made by
    `as_of` and not yet ended, as recorded by `known_at`."""
    links = t.campaign_links
    query = select(links.c.campaign_id, links.c.objective_id).where(links.c.workspace == workspace)
    if objective_ids is not None:
        query = query.where(links.c.objective_id.in_(objective_ids))
    if campaign_ids is not None:
        query = query.where(links.c.campaign_id.in_(campaign_ids))
    if moment.live:
        return query.where(links.c.linked_until.is_(None))
    query = query.where(links.c.linked_from <= moment.as_of)
    ended = links.c.linked_until <= moment.as_of
    if moment.known_at is not None:
        query = query.where(links.c.recorded_from <= moment.known_at)
        ended = ended & (links.c.recorded_until <= moment.known_at)
    return query.where(or_(links.c.linked_until.is_(None), ~ended))
