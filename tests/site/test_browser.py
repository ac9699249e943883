"""The site in a real headless Chromium (Debian's, driven by Playwright for Python; no browser download): it opens
from disk without a network request, its tables sort and filter from the keyboard, its links open sample pages, it
reads on a phone, and axe-core finds no accessibility violation. A screenshot of the overview is kept in
$HARNESS_TEST_ARTIFACTS (default .harness/test-artifacts/).

Skipped with the reason where there is no browser (`bash leaderboard/ensure-browser.sh` installs one); with
HARNESS_REQUIRE_BROWSER=1 a missing browser is a failure instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.site.demo import REPO, Demo, make_demo

CHROMIUM = Path(os.environ.get("HARNESS_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("HARNESS_TEST_ARTIFACTS", REPO / ".harness" / "test-artifacts"))


def _no_browser(why: str):
    if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{why} (HARNESS_REQUIRE_BROWSER=1)")
    pytest.skip(f"{why}; `bash leaderboard/ensure-browser.sh` installs one")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("Playwright for Python is not installed")
    if not CHROMIUM.exists():
        _no_browser(f"no Chromium at {CHROMIUM} (set HARNESS_CHROMIUM)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    return make_demo(tmp_path_factory.mktemp("site"))


@pytest.fixture
def page(browser):
    """A page that records every request that is not for a file, and every console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.outside: list[str] = []
    page.errors: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            page.outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def some_pages(demo: Demo) -> dict[str, Path]:
    out = demo.out
    return {"overview": out / "index.html", "benchmark": next((out / "benchmarks").glob("echo-*.html")),
            "model": next((out / "models").glob("Old_model-*.html")),
            "run": next((out / "runs").glob("tmbench-default-replay-*.html")),
            "sample": next((out / "samples").glob("echo-default-replay-echo-weak-*/n00003-*.html"))}


def test_every_kind_of_page_opens_from_disk_without_any_network_request(demo, page):
    for kind, path in some_pages(demo).items():
        page.goto(path.as_uri())
        assert page.locator("h1").count() == 1, kind
        assert page.evaluate("document.documentElement.classList.contains('js')"), f"{kind}: site.js did not run"
    assert page.outside == [] and page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto((demo.out / "index.html").as_uri())
    page.screenshot(path=str(ARTIFACTS / "site-overview.png"), full_page=True)
    assert (ARTIFACTS / "site-overview.png").stat().st_size > 10_000


def _column(page, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent)")


def test_tables_sort_from_the_keyboard_and_say_so_with_aria_sort(demo, page):
    from playwright.sync_api import expect

    page.goto((demo.out / "index.html").as_uri())
    table = page.locator("#overview")
    model_header = table.get_by_role("columnheader", name="Model")
    # reach the first header's button with Tab from the filter box, as a keyboard user would
    page.locator('input[data-filter="overview"]').focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Model":
            break
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    expect(model_header).to_have_attribute("aria-sort", "ascending")
    names = _column(page, "overview", 0)
    assert names == sorted(names, key=str.lower)
    page.keyboard.press("Enter")
    expect(model_header).to_have_attribute("aria-sort", "descending")
    assert _column(page, "overview", 0) == sorted(names, key=str.lower, reverse=True)
    # the next header by Tab, pressed with Space: a number column sorts highest first; only one header is sorted
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "dated · default (pass@1)"
    page.keyboard.press("Space")
    dated_header = table.get_by_role("columnheader", name="dated · default (pass@1)")
    expect(dated_header).to_have_attribute("aria-sort", "descending")
    assert page.eval_on_selector_all("#overview th[aria-sort]", "hs => hs.length") == 1
    values = page.eval_on_selector_all(
        "#overview tbody tr", "rows => rows.map(r => r.cells[1].dataset.sort === undefined ? null "
                              ": parseFloat(r.cells[1].dataset.sort))")
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True) and values[: len(present)] == present  # missing ones last
    assert model_header.get_attribute("aria-sort") is None


def test_the_filter_box_hides_rows_that_do_not_match(demo, page):
    page.goto((demo.out / "index.html").as_uri())
    page.locator('input[data-filter="overview"]').fill("echo")
    visible = page.eval_on_selector_all("#overview tbody tr:not([hidden])", "rows => rows.map(r => r.textContent)")
    assert len(visible) == 2 and all("echo" in v for v in visible)
    assert page.locator("#overview-count").text_content() == "2 of 5 rows"
    page.locator('input[data-filter="overview"]').fill("")
    assert page.locator("#overview tbody tr:not([hidden])").count() == 5


def test_a_sample_link_in_a_run_table_opens_that_samples_page(demo, page):
    page.goto(some_pages(demo)["run"].as_uri())
    link = page.locator("#samples tbody tr").first.locator("a")
    sample_id = link.text_content()
    link.click()
    page.wait_for_load_state()
    assert "/samples/" in page.url and page.locator("h1").text_content() == f"Sample {sample_id}"
    assert page.get_by_role("heading", name="Response").count() == 1
    page.get_by_role("link", name="All samples of this run").click()
    assert "/runs/" in page.url
    assert page.outside == [] and page.errors == []


def test_pages_read_on_a_phone_without_scrolling_sideways(demo, browser):
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    try:
        for kind, path in some_pages(demo).items():
            page.goto(path.as_uri())
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 375, f"{kind} page is {wide}px wide on a 375px screen"
            # wide tables scroll inside their own focusable region instead
            for region in page.locator(".scroll").all()[:3]:
                assert region.get_attribute("tabindex") == "0"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.goto((demo.out / "index.html").as_uri())
        page.screenshot(path=str(ARTIFACTS / "site-overview-phone.png"), full_page=True)
    finally:
        context.close()


def test_axe_finds_no_accessibility_violation(demo, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems = {}
    for kind, path in some_pages(demo).items():
        page.goto(path.as_uri())
        page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")  # check what they hide too
        result = axe.run(page)
        if result.violations_count:
            problems[kind] = result.generate_report()
    assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())
    assert page.outside == []


def test_the_built_in_demo_is_no_exception(tmp_path, browser):
    """The site of the smoke suite's TMBench runs (what `make run` builds, less the Docker tasks) under the same
    checks: no violation, nothing from elsewhere."""
    from axe_playwright_python.sync_playwright import Axe

    from tests.site.demo import TMBENCH_REPLAY, build, run

    store = tmp_path / "store.sqlite"
    run(store, "--task", "tmbench", "--model", "oracle", "--limit", "20")
    run(store, "--task", "tmbench", "--model", f"replay:{TMBENCH_REPLAY}", "--limit", "20")
    build(store, tmp_path / "site")
    total = sum(p.stat().st_size for p in (tmp_path / "site").rglob("*") if p.is_file())
    assert total < 1_000_000, f"the demo site is {total:,} bytes"
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto((tmp_path / "site" / "benchmarks").glob("tmbench-*.html").__next__().as_uri())
        assert Axe().run(page).violations_count == 0
    finally:
        context.close()
    shutil.rmtree(tmp_path / "site")
