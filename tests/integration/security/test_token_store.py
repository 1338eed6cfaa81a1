"""The token store's failure modes as the services see them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from truenorth.auth import Authenticator, AuthUnavailable, new_token


def test_a_store_that_cannot_be_read_is_unavailable_not_unauthorised(tmp_path: Path) -> None:
    authenticator = Authenticator.from_url("postgresql+psycopg://u:p@127.0.0.1:1/none", ttl=0)
    token = new_token()[0]
    with pytest.raises(AuthUnavailable):
        asyncio.run(authenticator.verify(token))


def test_an_empty_store_knows_no_token(tmp_path: Path) -> None:
    authenticator = Authenticator.from_url(f"sqlite:///{tmp_path}/tokens.db", ttl=0)
    assert asyncio.run(authenticator.verify(new_token()[0])) is None
