"""The page with auth required, in headless Chromium: it is served without figures and asks
for a token once (kept in sessionStorage), then fetches its content and sends its actions
with `Authorization: Bearer`; a refused token (401) or a token without the scope (403) is a
clear message, not a blank page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.harness import RunningSystem, start_system
from tests.e2e.page_browser import chromium, new_page, screenshot
from tests.e2e.test_page import NOW, WS, seed_system
from tests.e2e.test_page_detail import OBJECTIVE, wait_until
from truenorth.auth import TokenStore, bindings

BAD_TOKEN = "tn_000000000000_" + "A" * 43


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data = tmp_path_factory.mktemp("page-auth") / "data"
    data.mkdir()
    store = TokenStore.open(f"sqlite:///{data / 'tokens.db'}")
    made = {
        name: store.create(name, scopes)[1]
        for name, scopes in (
            ("seeder", ["admin"]),
            ("lead", ["read", "strategy-write"]),
            ("viewer", ["read"]),
        )
    }
    made["bound"] = store.create("bound", ["read", *bindings([WS])])[1]
    made["elsewhere"] = store.create("elsewhere", ["read", *bindings(["other"])])[1]
    store.engine.dispose()
    return data, made


@pytest.fixture(scope="module")
def system(tokens: tuple[Path, dict[str, str]]) -> Iterator[RunningSystem]:
    data, made = tokens
    env = {
        "TRUENORTH_AUTH": "required",
        "TRUENORTH_CLOCK_ORIGIN": NOW,
        "TRUENORTH_CLOCK_SPEED": "1",
        "TRUENORTH_CLOCK_STARTED_AT": datetime.now(UTC).isoformat(),
        "TRUENORTH_ALIGNMENT_TICK_SECONDS": "0.5",
    }
    running = start_system(data, env=env)
    try:
        seeder = {"Authorization": f"Bearer {made['seeder']}"}
        seed_system(running.urls, seeder)
        wait_until(lambda: _has_incident(running.urls["alignment"], seeder))
        yield running
    finally:
        running.stop()


def _has_incident(alignment: str, headers: dict[str, str]) -> bool:
    answer = httpx.get(f"{alignment}/v1/workspaces/{WS}/incidents", headers=headers)
    return answer.status_code == 200 and any(
        OBJECTIVE in {f.get("objective_id") for f in i["facets"]}
        for i in answer.json()["incidents"]
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def test_the_page_without_a_token_carries_no_figures(system: RunningSystem) -> None:
    alignment = system.urls["alignment"]
    shell = httpx.get(f"{alignment}/?workspace={WS}")
    assert shell.status_code == 200
    assert "token-form" in shell.text
    assert "New enterprise pipeline" not in shell.text
    assert httpx.get(f"{alignment}/ui/live?workspace={WS}").status_code == 401
    assert httpx.get(f"{alignment}/ui/objectives/{WS}/{OBJECTIVE}").status_code == 401


def test_the_page_asks_for_a_token_once_and_uses_it(
    system: RunningSystem, browser: Browser, tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, made = tokens
    errors: list[str] = []
    page = new_page(browser, errors)
    page.goto(f"{system.urls['alignment']}/?workspace={WS}")
    page.wait_for_selector("#token-form:not([hidden])")
    page.fill("#token-input", BAD_TOKEN)
    page.click("#token-form button")
    page.wait_for_selector("#message:not([hidden])")
    assert "Not signed in (401)" in page.locator("#message").inner_text()
    screenshot(page, tmp_path, "token-refused")

    page.fill("#token-input", made["lead"])
    page.click("#token-form button")
    page.wait_for_selector(f"a.objective[data-objective='{OBJECTIVE}']")
    assert page.locator("#token-form").is_hidden()
    screenshot(page, tmp_path, "token-accepted")

    page.click(f"a.objective[data-objective='{OBJECTIVE}']")  # the next page asks no more
    page.wait_for_selector("svg.chart")
    assert page.locator("#token-form").is_hidden()
    assert errors == []


def test_acting_with_a_read_only_token_says_why_it_was_refused(
    system: RunningSystem, browser: Browser, tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, made = tokens
    errors: list[str] = []
    page = new_page(browser, errors)
    page.goto(f"{system.urls['alignment']}/objectives/{WS}/{OBJECTIVE}")
    page.fill("#token-input", made["viewer"])
    page.click("#token-form button")
    form = page.locator("details[data-status='open'] form.ack-form").first
    form.wait_for()
    form.locator("textarea").fill("looking into it")
    form.locator("button").click()
    page.wait_for_selector("#message:not([hidden])")
    text = page.locator("#message").inner_text()
    assert "This token may not do that (403)" in text, text
    screenshot(page, tmp_path, "token-forbidden")


def test_acknowledging_with_a_token_records_its_name(
    system: RunningSystem, browser: Browser, tokens: tuple[Path, dict[str, str]]
) -> None:
    _, made = tokens
    errors: list[str] = []
    page = new_page(browser, errors)
    page.goto(f"{system.urls['alignment']}/objectives/{WS}/{OBJECTIVE}")
    page.fill("#token-input", made["lead"])
    page.click("#token-form button")
    form = page.locator("details[data-status='open'] form.ack-form").first
    form.wait_for()
    form.locator("textarea").fill("on it: lead")
    form.locator("button").click()
    note = page.locator("li.ack[data-by='lead'] blockquote.note")
    note.first.wait_for()
    assert note.first.inner_text() == "on it: lead"
    assert errors == []


def test_a_token_bound_to_the_workspace_reads_its_page_and_no_other(
    system: RunningSystem, tokens: tuple[Path, dict[str, str]]
) -> None:
    _, made = tokens
    alignment = system.urls["alignment"]
    bound = {"Authorization": f"Bearer {made['bound']}"}
    assert httpx.get(f"{alignment}/ui/live?workspace={WS}", headers=bound).status_code == 200
    detail = httpx.get(f"{alignment}/ui/objectives/{WS}/{OBJECTIVE}", headers=bound)
    assert detail.status_code == 200 and "svg" in detail.text
    elsewhere = {"Authorization": f"Bearer {made['elsewhere']}"}
    refused = httpx.get(f"{alignment}/ui/objectives/{WS}/{OBJECTIVE}", headers=elsewhere)
    assert refused.status_code == 403 and "bound to workspace(s) other" in refused.text
