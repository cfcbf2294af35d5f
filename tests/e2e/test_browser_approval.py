"""An approver in a real browser: headless Chromium (the OS package, driven by Playwright)
opens the approval email, follows its link, reads the request's context on the page and
approves with the page's own button, on `bluegreen local serve --sample`."""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.support import (
    aws,
    executions_for,
    finished,
    outbox,
    production_image,
    push,
    wait,
)

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make e2e` installs it
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: scripts/install-chromium (make e2e) installs it",
    ),
]
# Headless as root on a closed network: no sandbox (root), no GPU, and none of Chromium's
# own background connections (refused here, and slow to fail).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Each launch starts from a new, empty profile of its own.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def refusals(page: Page) -> list[str]:
    """What the browser logs it refused or failed at on ``page`` from now on (a style or a
    form post the page's Content-Security-Policy blocks, a script error)."""
    logged: list[str] = []
    page.on("console", lambda m: logged.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: logged.append(str(error)))
    return logged


def approval_email(endpoint: str, tag: str) -> dict[str, Any] | None:
    for message in outbox(endpoint):
        if message["channel"] == "email" and tag in message["subject"]:
            return message
    return None


def rows(page: Page) -> dict[str, str]:
    """The page's tables as people read them: each row's first cell -> the rest, as shown."""
    found: list[list[str]] = page.locator("main tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.cells, td => td.innerText.trim()))"
    )
    return {cells[0]: "\n".join(cells[1:]) for cells in found if len(cells) > 1}


def production_entry(endpoint: str) -> dict[str, Any]:
    """The sample's demo-web in production, as its configuration says: the environment a
    human approves (development, before it, asks nobody)."""
    services = aws(endpoint, "ssm").get_parameter(Name="/bluegreen/services")
    entry: dict[str, Any] = tomllib.loads(services["Parameter"]["Value"])["services"]["demo-web"]
    environments = entry.pop("environments")
    (approved,) = [name for name, stage in environments.items() if stage.get("approvers")]
    return {**entry, **environments[approved], "environment": approved}


def test_an_approver_reads_the_request_in_a_browser_and_approves_it(
    endpoint: str, page: Page, tmp_path: Path
) -> None:
    sample = production_entry(endpoint)
    ecs = aws(endpoint, "ecs")
    running = ecs.describe_services(cluster=sample["cluster"], services=[sample["service"]])
    task_definition_before = running["services"][0]["taskDefinition"]
    image_before = production_image(endpoint)
    repository_uri = aws(endpoint, "ecr").describe_repositories(
        repositoryNames=[sample["repository"]]
    )["repositories"][0]["repositoryUri"]

    tag = secrets.token_hex(20)
    pushed_at = datetime.now(UTC)
    digest = push(endpoint, tag, repository=sample["repository"])
    new_image = f"{repository_uri}@{digest}"
    email = wait(lambda: approval_email(endpoint, tag), 60, "the approval email")
    (link,) = [link for link in email["links"] if "/approvals/" in link]

    # The email as a mail client shows it; its button is the link the outbox lists.
    refused = refusals(page)
    page.set_content(email["html"])
    button = page.get_by_role("link", name="Review and decide")
    assert button.get_attribute("href") == link
    with page.expect_navigation() as opened:
        button.click()
    assert opened.value is not None
    assert opened.value.status == 200
    assert page.url == link
    opened_at = datetime.now(UTC)

    # What the approver judges by, as the browser renders it.
    environment = sample["environment"]
    expect(page.locator("h1")).to_have_text(f"Deploy {tag} to demo-web ({environment})?")
    shown = rows(page)
    assert shown["Service"] == f"{sample['cluster']}/{sample['service']} ({environment})"
    assert shown["New image"] == f"{tag} · {new_image}"
    assert shown["Production runs"] == image_before
    assert shown["Task definition"].startswith(f"{task_definition_before} → ")
    expect(page.get_by_role("heading", name="Task definition changes")).to_be_visible()
    change = f"containerDefinitions[{sample['container']}].image"
    assert shown[change] == f"- {image_before}\n+ {new_image}"

    # The expiry, as a time and in words: the service's approval timeout after the request.
    expires = re.fullmatch(
        r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(in (1 hour|\d+ minutes)\)", shown["Expires"]
    )
    assert expires, shown["Expires"]
    timeout = timedelta(seconds=sample["timings"]["approval_timeout_seconds"])
    expires_at = datetime.strptime(expires.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert pushed_at + timeout - timedelta(minutes=1) <= expires_at <= opened_at + timeout
    page.screenshot(path=tmp_path / "approval-page.png", full_page=True)
    assert refused == []

    # The page's own Approve button, as the approver clicks it.
    with page.expect_navigation() as answered:
        page.get_by_role("button", name="Approve deployment").click()
    assert answered.value is not None
    assert answered.value.status == 200
    expect(page.locator("h1")).to_have_text(f"Approved: demo-web {tag} ({environment})")
    expect(page.locator('meta[name="bluegreen-decision"]')).to_have_attribute("content", "approved")
    page.screenshot(path=tmp_path / "answer-page.png", full_page=True)
    assert refused == []
    assert (tmp_path / "approval-page.png").read_bytes().startswith(b"\x89PNG")

    # The deployment moves on to its end, onto the image and task definition the page showed.
    (execution,) = executions_for(endpoint, tag)
    assert finished(endpoint, execution["executionArn"])["status"] == "SUCCEEDED"
    assert production_image(endpoint) == new_image
    running = ecs.describe_services(cluster=sample["cluster"], services=[sample["service"]])
    task_definition_after = running["services"][0]["taskDefinition"]
    assert shown["Task definition"] == f"{task_definition_before} → {task_definition_after}"
