"""The benchmark runs end to end in its quick form and reports every scenario.

No timing thresholds: figures depend on the machine; only their presence and sanity
are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "overhead": [
        "jobs_per_s",
        "requests_per_s",
        "worker_vs_requests_ratio",
        "worker_cpu_ms_per_job",
    ],
    "logging": ["warning_jobs_per_s", "info_jobs_per_s", "info_vs_warning_throughput_ratio"],
    "concurrency": ["jobs_per_s", "bound_jobs_per_s", "efficiency_ratio"],
    "latency": ["queued_p50_ms", "queued_p99_ms", "beyond_provider_p50_ms", "in_worker_p99_ms"],
    "embeddings": ["http_requests", "seconds", "worker_peak_rss_mb", "result_mb"],
    "scale_out": ["p1_jobs_per_s", "p2_jobs_per_s", "two_vs_one_ratio"],
    "round_trips": [
        "submit_round_trips_per_job",
        "run_round_trips_per_job",
        "run_cpu_ms_per_job",
        "buckets_counting_ms_per_job",
    ],
    "in_flight": [
        "jobs_per_s",
        "bound_jobs_per_s",
        "efficiency_ratio",
        "steady_efficiency_ratio",
        "worker_cpu_ms_per_job",
        "rss_mb",
        "peak_rss_sum_mb",
        "requests_per_s",
        "requests_rss_mb",
    ],
    "burst": ["burst_s", "efficiency_ratio"],
    "batch_tier": [
        "submit_per_s",
        "records_written_s",
        "records_per_s",
        "finish_vs_standard_ratio",
        "peak_rss_sum_mb",
    ],
    "pool": [
        "pool_jobs_per_s",
        "sum_of_member_limits_per_s",
        "pool_vs_limits_ratio",
        "single_jobs_per_s",
        "pool_vs_single_ratio",
    ],
    "wait_latency": [
        "client_wait_p50_ms",
        "client_wait_p99_ms",
        "async_wait_p50_ms",
        "async_wait_p99_ms",
    ],
}


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--scale", "0.5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    parsed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {line["scenario"]: line for line in parsed}


def test_every_scenario_prints_one_json_line(lines: dict[str, dict[str, Any]]) -> None:
    assert sorted(lines) == sorted(EXPECTED)
    for line in lines.values():
        assert "failed" not in line


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_scenario_reports_its_figures_as_positive_numbers(
    lines: dict[str, dict[str, Any]], scenario: str
) -> None:
    figures = lines[scenario]
    for key in EXPECTED[scenario]:
        assert isinstance(figures[key], int | float), key
        assert figures[key] > 0, key


def test_every_job_of_the_quick_run_succeeded(lines: dict[str, dict[str, Any]]) -> None:
    for scenario in ("overhead", "concurrency", "in_flight", "burst"):
        figures = lines[scenario]
        assert figures["succeeded"] == figures["jobs"]  # over every round of the overhead
    assert lines["scale_out"]["p1_succeeded"] == lines["scale_out"]["jobs"]
    assert lines["scale_out"]["p2_succeeded"] == lines["scale_out"]["jobs"]
    assert lines["embeddings"]["status"] == "succeeded"
    assert lines["embeddings"]["vectors"] == lines["embeddings"]["chunks"]
    batch = lines["batch_tier"]
    assert batch["succeeded"] == batch["jobs"]
    # Sealed when full: two groups, one file and one provider batch each.
    assert batch["groups"] == batch["files_uploaded"] == batch["batches_created"] == 2
    pool = lines["pool"]
    assert pool["pool_succeeded"] == pool["single_succeeded"] == pool["jobs"]
    # Every pool job was served by one of the three members, and each took some share.
    assert sum(pool["pool_served_by"].values()) == pool["jobs"]
    assert pool["pool_served_by_others"] == 0
    assert all(count > 0 for count in pool["pool_served_by"].values())
    # The provider stand-in answered at least one call per job in each phase.
    assert pool["pool_http_requests"] >= pool["jobs"]
    assert pool["single_http_requests"] >= pool["jobs"]


def test_ratios_are_named_as_ratios(lines: dict[str, dict[str, Any]]) -> None:
    ratios = [key for line in lines.values() for key in line if key.endswith("_ratio")]
    assert "worker_vs_requests_ratio" in ratios
    assert "efficiency_ratio" in ratios
    assert "two_vs_one_ratio" in ratios
    assert "pool_vs_limits_ratio" in ratios
