"""The dashboard's charts over real Redis and a real worker: what they plot is what the
worker did, over every range, for every configuration and in the refreshed fragment;
and in a real browser, a page that is drawn and redraws itself."""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from browsing import distinct_colours, fetch, png_pixels
from support import Recorded, Reply, chat_completion, make_configuration, provider_error

from worker.dashboard.figures import SPANS, gather
from worker.monitoring.buckets import RUN_BOUNDS_S, WAIT_BOUNDS_S, Minute

pytestmark = pytest.mark.integration
OPERATION = "chat_completions_without_history"
#: A second configuration whose name needs escaping in HTML and in a URL.
EAST, WEST = "east", "west/eu <b>"
MODELS = {EAST: "gpt-4o-mini", WEST: "gpt-4o"}
USAGE = {
    "gpt-4o-mini": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    "gpt-4o": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
}


@dataclass(frozen=True)
class Plan:
    """How many of a configuration's jobs end which way."""

    succeeded: int
    refused: int  # the provider answers 400: error type "provider"
    invalid: int  # a payload its schema refuses, submitted unchecked: "validation"

    @property
    def failed(self) -> int:
        return self.refused + self.invalid


PLANS = {EAST: Plan(140, 25, 10), WEST: Plan(90, 20, 15)}
SUCCEEDED = sum(plan.succeeded for plan in PLANS.values())
FAILED = sum(plan.failed for plan in PLANS.values())


def provider(recorded: Recorded) -> Reply:
    """Refuses a prompt saying "refuse"; answers anything else, with the model's usage."""
    body = recorded.json
    if body["messages"][-1]["content"] == "refuse":
        return provider_error(400, "unsupported value", "invalid_value")
    return Reply(json=chat_completion(usage=USAGE[body["model"]], model=body["model"]))


def run_jobs(client: Any, start_worker: Any, wire_server: Any) -> dict[str, list[str]]:
    """Every planned job through a real worker; the failed jobs' ids by configuration."""
    wire_server.handler = provider
    store = client.configurations()
    for name in PLANS:
        store.save(make_configuration("openai", wire_server.url, name=name))
    start_worker(threads=8)

    def submit(name: str, prompt: Any, count: int) -> list[str]:
        payload = {"configuration": name, "model": MODELS[name], "user_prompt": prompt}
        return [client.submit(OPERATION, payload, validate=False) for _ in range(count)]

    def finish(ids: list[str]) -> list[str]:
        return [job_id for job_id in ids if client.wait(job_id, 60)["status"] == "failed"]

    failed: dict[str, list[str]] = defaultdict(list)
    # Refused by their schema first: still counted under their (stored) configuration.
    for name, plan in PLANS.items():
        failed[name] += finish(submit(name, 42, plan.invalid))
    for name, plan in PLANS.items():
        failed[name] += finish(
            submit(name, "hi", plan.succeeded) + submit(name, "refuse", plan.refused)
        )
    for name, plan in PLANS.items():
        assert len(failed[name]) == plan.failed
    return failed


class ChartReader(HTMLParser):
    """Every chart's plotted values and table rows, as the page holds them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.chart: str | None = None
        self.section = ""
        #: chart → [(series, start or None, value text)]
        self.plotted: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
        #: chart → section (thead, tbody, tfoot) → rows of (attributes, cells)
        self.rows: dict[str, dict[str, list[tuple[dict[str, str], list[str]]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "figure" and "data-chart" in found:
            self.chart = found["data-chart"]
        if self.chart is None:
            return
        if "data-value" in found:
            entry = (found["data-series"], found.get("data-start"), found["data-value"])
            self.plotted[self.chart].append(entry)
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "tr" and self.section:
            self.rows[self.chart][self.section].append((found, []))
        elif tag in ("td", "th") and self.section:
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.chart, self.section = None, ""
        elif tag in ("td", "th") and self.cell is not None and self.chart is not None:
            self.rows[self.chart][self.section][-1][1].append("".join(self.cell))
            self.cell = None

    def sums(self, chart: str) -> Counter[str]:
        """The plotted values of a chart, added up by series."""
        totals: Counter[str] = Counter()
        for series, _, value in self.plotted[chart]:
            totals[series] += int(value)
        return totals

    def table(self, chart: str, section: str = "tbody") -> list[list[str]]:
        return [cells for _, cells in self.rows[chart][section]]


def expected_failures(plans: dict[str, Plan]) -> Counter[str]:
    refused = sum(plan.refused for plan in plans.values())
    invalid = sum(plan.invalid for plan in plans.values())
    return Counter({"provider": refused, "validation": invalid})


def tokens_of(name: str) -> dict[str, int]:
    usage = USAGE[MODELS[name]]
    return {k.removesuffix("_tokens"): v * PLANS[name].succeeded for k, v in usage.items()}


def assert_charts_show(page: ChartReader, plans: dict[str, Plan]) -> None:
    """The jobs, failures and quantile charts, and their tables, hold what ``plans`` ran."""
    succeeded = sum(plan.succeeded for plan in plans.values())
    failed = sum(plan.failed for plan in plans.values())
    # Jobs: the stacked bars add up to what ran, and so does the table, point by point
    assert page.sums("jobs") == Counter(succeeded=succeeded, failed=failed)
    assert page.table("jobs", "tfoot") == [
        ["total", str(succeeded), str(failed), str(succeeded + failed)]
    ]
    by_point: Counter[tuple[str, str | None]] = Counter()
    for series, start, value in page.plotted["jobs"]:
        by_point[series, start] += int(value)
    for attributes, cells in page.rows["jobs"]["tbody"]:
        start = attributes["data-start"]
        assert [int(cells[1]), int(cells[2])] == [
            by_point["succeeded", start],
            by_point["failed", start],
        ]
    # Failures by type: one bar per type
    assert page.sums("failures") == expected_failures(plans)
    assert {row[0]: int(row[1]) for row in page.table("failures")} == expected_failures(plans)
    # Queue wait and run time: every job observed once; each quantile a bin's bound
    for chart, bounds in (("wait", WAIT_BOUNDS_S), ("run", RUN_BOUNDS_S)):
        assert page.table(chart, "tfoot") == [["jobs", str(succeeded + failed)]]
        plotted = page.plotted[chart]
        assert plotted, f"nothing plotted on {chart}"
        assert {float(value) for _, _, value in plotted} <= set(bounds)
        quantiles = {(series, start): float(value) for series, start, value in plotted}
        for (series, start), value in quantiles.items():
            if series == "p50":
                assert value <= quantiles["p95", start]


def test_the_charts_plot_what_a_worker_did_for_every_range_and_configuration(
    client: Any, start_worker: Any, wire_server: Any, dashboard: str, eventually: Any
) -> None:
    # Given 300 jobs run by a real worker over two configurations: 230 succeeded, 45
    # refused by the provider, 25 refused by their payload's schema
    failed_ids = run_jobs(client, start_worker, wire_server)

    # When the overview is drawn (once the worker has added its last job to the buckets)
    def overview() -> tuple[str, ChartReader]:
        code, html = fetch(dashboard + "/")
        assert code == 200
        page = ChartReader(html)
        assert sum(page.sums("jobs").values()) == SUCCEEDED + FAILED
        return html, page

    html, page = eventually(overview)

    # Then every chart shows those jobs
    assert_charts_show(page, PLANS)
    assert f'data-succeeded="{SUCCEEDED}" data-failed="{FAILED}"' in html
    # and the tokens per configuration, each one's total, with every kind in the table
    assert page.sums("tokens") == {name: tokens_of(name)["total"] for name in PLANS}
    east_row = next(row for row in page.table("tokens") if row[0] == EAST)
    assert east_row == [EAST, "2520", "completion 980, prompt 1,540, total 2,520"]
    # and the queue depth: nothing waits any more
    assert re.search(r'id=queue-depth class=tile data-ready="0" data-delayed="0"', html)
    # and the name that needs escaping is escaped, and linked to its page
    assert "west/eu &lt;b&gt;" in html
    assert WEST not in html
    assert f'href="/configurations/{quote(WEST, safe="")}"' in html
    # and the sections below the charts are still there
    for section in ("Queues", "Workers", "Recent jobs", "Batches", "Pools"):
        assert f"<h2>{section}</h2>" in html

    # When each configuration's page is drawn
    for name, plan in PLANS.items():
        code, html = fetch(f"{dashboard}/configurations/{quote(name, safe='')}")
        assert code == 200
        page = ChartReader(html)
        # Then its charts show its jobs only, and its tokens by kind
        assert_charts_show(page, {name: plan})
        assert page.sums("tokens") == tokens_of(name)
        # and its most recent failed jobs, its own only
        listed = re.findall(
            r'<td><a href="/jobs/([0-9a-f]+)">', html.split("<h2>Recent failures</h2>")[1]
        )
        assert len(listed) == min(plan.failed, 25)
        assert set(listed) <= set(failed_ids[name])
        assert f"<title>configuration {escape(name)} · openai-worker</title>" in html

    # When the range switch asks for the last day, or week
    for span, per, step_s in (("day", "per 10 minutes", 600), ("week", "per hour", 3600)):
        code, html = fetch(f"{dashboard}/?range={span}")
        assert code == 200
        page = ChartReader(html)
        # Then the same jobs are plotted on coarser points, as the titles say
        assert_charts_show(page, PLANS)
        assert f"Jobs {per}, succeeded and failed (last {span})" in html
        assert all(int(start or 0) % step_s == 0 for _, start, _ in page.plotted["jobs"])
        assert f'href="/?range={span}" aria-current="page"' in html
    assert fetch(f"{dashboard}/?range=year")[0] == 400

    # When the refresh script asks for the fragment, of everything or one configuration
    code, fragment = fetch(f"{dashboard}/fragments/charts?range=day")
    assert code == 200
    assert fragment.startswith('<div id=charts data-fragment="/fragments/charts?range=day"')
    assert "<html" not in fragment
    assert_charts_show(ChartReader(fragment), PLANS)
    code, fragment = fetch(f"{dashboard}/fragments/charts?range=hour&configuration={quote(WEST)}")
    assert code == 200
    assert_charts_show(ChartReader(fragment), {WEST: PLANS[WEST]})
    assert "queue-depth" not in fragment  # the queue is every configuration's


def test_minutes_are_added_up_into_a_days_ten_minute_points() -> None:
    # Given three minutes of one ten-minute point, one of the next, one before the span
    day = SPANS["day"]
    first = 1_800_000_000 - 143 * 600
    minutes = []
    for start, succeeded, failed in (
        (first - 60, 5, 5),
        (first, 1, 0),
        (first + 540, 2, 1),
        (first + 600, 3, 0),
    ):
        minute = Minute(start, jobs=Counter(succeeded=succeeded, failed=failed))
        minute.wait[2] = succeeded + failed
        minute.failures["provider"] = failed
        minute.tokens["east"] = Counter(total=10 * succeeded)
        minutes.append(minute)

    figures = gather(minutes, day, first)

    # Then the points hold their minutes, and the minute before the span is left out
    assert len(figures.points) == 144
    assert figures.points[0].start == first
    assert figures.points[0].jobs == Counter(succeeded=3, failed=1)
    assert figures.points[0].wait[2] == 4
    assert figures.points[1].jobs == Counter(succeeded=3)
    assert figures.total("succeeded") == 6
    assert figures.failures == Counter(provider=1)
    assert figures.tokens == {"east": Counter(total=60)}


# --- in a real browser ----------------------------------------------------------------


def test_in_a_browser_the_charts_show_the_jobs_and_redraw_themselves(
    client: Any,
    start_worker: Any,
    wire_server: Any,
    dashboard: str,
    browser: Any,
    eventually: Any,
    tmp_path: Path,
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    # Given 300 jobs of mixed outcomes run by a real worker
    run_jobs(client, start_worker, wire_server)

    # When an operator opens the overview (once the buckets hold every job)
    def plotted_in_browser() -> dict[str, int]:
        browser.get(dashboard + "/")
        totals: Counter[str] = Counter()
        for bar in browser.find_elements(By.CSS_SELECTOR, "#chart-jobs rect.bar"):
            totals[bar.get_attribute("data-series")] += int(bar.get_attribute("data-value"))
        return totals if sum(totals.values()) == SUCCEEDED + FAILED else {}

    # Then the bars the browser draws add up to the jobs that ran
    assert eventually(plotted_in_browser) == {"succeeded": SUCCEEDED, "failed": FAILED}
    failures = {
        bar.get_attribute("data-series"): int(bar.get_attribute("data-value"))
        for bar in browser.find_elements(By.CSS_SELECTOR, "#chart-failures rect.bar")
    }
    assert failures == expected_failures(PLANS)
    bar = browser.find_element(By.CSS_SELECTOR, "#chart-jobs rect.bar")
    assert (
        bar.find_element(By.TAG_NAME, "title")
        .get_attribute("textContent")
        .endswith(("succeeded", "failed"))
    )

    # and the page is drawn: a real screenshot, neither blank nor one flat colour
    screenshot = tmp_path / "charts.png"
    screenshot.write_bytes(browser.get_screenshot_as_png())
    if os.environ.get("OPENAI_WORKER_SCREENSHOT_DIR"):  # to look at it
        shutil.copy(screenshot, os.environ["OPENAI_WORKER_SCREENSHOT_DIR"])
    width, height, rows = png_pixels(screenshot.read_bytes())
    assert width == 1280
    assert height >= 600
    sampled = Counter(row[x : x + 3] for row in rows[::4] for x in range(0, len(row) - 2, 12))
    most_common_share = sampled.most_common(1)[0][1] / sum(sampled.values())
    assert most_common_share < 0.9, "the screenshot is nearly one flat colour"
    assert distinct_colours(rows, step=2) > 30
    chart_box = browser.find_element(By.ID, "jobs-svg").rect
    assert chart_box["width"] > 300
    assert chart_box["height"] > 100

    # When a few seconds pass, the script puts a freshly drawn container in place
    browser.execute_script("window.sameDocument = true")
    container = browser.find_element(By.ID, "charts")
    drawn_at = container.get_attribute("data-rendered-at")

    def replaced(driver: Any) -> bool:
        try:
            container.get_attribute("data-rendered-at")
        except StaleElementReferenceException:
            fresh = driver.find_element(By.ID, "charts").get_attribute("data-rendered-at")
            return bool(float(fresh) > float(drawn_at))
        return False

    WebDriverWait(browser, 30).until(replaced)
    # and the redrawn charts still hold the same figures, without the page reloading
    redrawn: Counter[str] = Counter()
    for bar in browser.find_elements(By.CSS_SELECTOR, "#chart-jobs rect.bar"):
        redrawn[bar.get_attribute("data-series")] += int(bar.get_attribute("data-value"))
    assert redrawn == {"succeeded": SUCCEEDED, "failed": FAILED}
    assert browser.execute_script("return window.sameDocument") is True
