"""Record the contract cassettes: every case of ``cases.py``, through the real worker code.

    make record-cassettes                                 # against the spec mocks
    OPENAI_API_KEY=… AZURE_OPENAI_ENDPOINT=… AZURE_OPENAI_API_KEY=… \\
        AZURE_OPENAI_DEPLOYMENT=… make record-cassettes   # against the real services

By default the cases run against the Prism mocks of the official specs (started with
``../shared/tools/prism/up.sh`` when they are not answering), so every recorded request
has passed the spec's validation; answers are then replaced by the realistic ones of
``handmade.py``. With keys for a provider, its ``live`` cases run against the real
service instead and keep the real answers; its other cases (errors a real service will
not produce on demand) are left as they are. ``--only TEXT`` records the cases whose
id (``provider/operation/name``) contains TEXT.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from requests.structures import CaseInsensitiveDict
from vcr.request import Request as VcrRequest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run by path or with -m: cases, harness, handmade

import batch_cases  # noqa: E402
import batch_harness  # noqa: E402
import cases  # noqa: E402
import handmade  # noqa: E402
import harness  # noqa: E402
from batch_api_server import serve_batch_api  # noqa: E402

from worker.configurations import Configuration  # noqa: E402
from worker.transport import HttpClient, HttpResponse  # noqa: E402

#: Any case: a standard-tier job's, or a batch tier's (``batch_cases``).
Case = cases.ContractCase | batch_cases.BatchCase

UP_SCRIPT = HERE.parent.parent / "shared" / "tools" / "prism" / "up.sh"
V1_SCRIPT = HERE / "prism_azure_v1.sh"
MOCKS = harness.Target(
    openai_base="http://127.0.0.1:4010/v1",
    azure_resource="http://127.0.0.1:4011",
    azure_v1_resource="http://127.0.0.1:4012",
)


def live_target(env: dict[str, str]) -> dict[str, harness.Target]:
    """The real services for which keys are given, by provider."""
    targets: dict[str, harness.Target] = {}
    if env.get("OPENAI_API_KEY"):
        targets["openai"] = harness.Target(
            openai_base=env.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            openai_key=env["OPENAI_API_KEY"],
            organization=env.get("OPENAI_ORGANIZATION") or None,
        )
    azure = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT")
    if all(env.get(name) for name in azure):
        targets["azure"] = harness.Target(
            azure_resource=env["AZURE_OPENAI_ENDPOINT"],
            azure_key=env["AZURE_OPENAI_API_KEY"],
            # Bearer cases use an Entra token when given, else they stay mock-recorded.
            entra_token=env.get("AZURE_OPENAI_AD_TOKEN", ""),
            deployment=env["AZURE_OPENAI_DEPLOYMENT"],
            api_version=env.get("AZURE_OPENAI_API_VERSION", harness.API_VERSION),
        )
        # The same resource and deployment through the v1 API.
        targets["azure_v1"] = replace(
            targets["azure"], azure_v1_resource=env["AZURE_OPENAI_ENDPOINT"]
        )
    return targets


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - a fixed loopback URL
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the mock is up
    except OSError:
        return False
    return True


def ensure_mocks() -> None:
    """Start the spec mocks unless they answer: up.sh for OpenAI and Azure 2024-10-21,
    ``prism_azure_v1.sh`` for Azure's v1 API."""
    if not (_answers("http://127.0.0.1:4010/") and _answers("http://127.0.0.1:4011/")):
        if not UP_SCRIPT.exists():
            raise SystemExit(f"record: the mocks are not running and {UP_SCRIPT} is missing")
        subprocess.run(["bash", str(UP_SCRIPT)], check=True)
    if not _answers("http://127.0.0.1:4012/"):
        subprocess.run(["bash", str(V1_SCRIPT)], check=True, stdout=subprocess.DEVNULL)


#: Says, in every answer recorded against a mock, what answered the request it recorded
#: and with which status, before any hand-made answer replaced it.
RECORDED_AGAINST = "x-contract-recorded-against"
#: What validated each provider's requests while recording against the mocks.
VALIDATORS = {
    "openai": "prism openai-openapi.yaml",
    "azure": "prism azure-openai-inference-2024-10-21.json",
    "azure_v1": "prism azure-v1-v1-generated.json",
}
#: Azure's batch cases: no spec of Azure's has a mock for batches.
BATCH_SERVER = "contracts/batch_api (stateful server, no spec validation)"


def validator(case: Case) -> str:
    if isinstance(case, batch_cases.BatchCase) and case.provider != "openai":
        return BATCH_SERVER
    return VALIDATORS[case.provider]


def run(case: Case, configuration: Configuration, http: HttpClient) -> Any:
    """One run of a case through the real worker: a delivery, or a batch story."""
    if isinstance(case, batch_cases.BatchCase):
        return batch_harness.run_batch_case(case, configuration, http)
    return harness.deliver(case, configuration, http)


def record(case: Case, target: harness.Target, *, mock: bool) -> list[int]:
    """Run the case once under a recording cassette, replacing the answer if handmade.

    Returns the statuses the provider answered with, before any replacement. While
    recording, the worker sees the mock's placeholder answers, not the hand-made ones;
    ``replayed`` then runs the finished cassette to see what the job makes of it.
    """
    extra = {}
    if mock and case.mock_status:
        extra[harness.MOCK_STATUS_HEADER] = f"code={case.mock_status}"
    names = list(case.rounds) if case.rounds else [case.handmade] if case.handmade else []
    replacements = [handmade.RESPONSES[name] for name in names] if mock else []
    download = handmade.DOWNLOADS.get(case.handmade or "") if mock else None
    violations: list[str] = []
    statuses: list[int] = []

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response = harness.scrub_response(response)
        if "x-contract-handmade" in response["headers"]:
            return response  # a hand-made download, appended below
        status = int(response["status"]["code"])
        for name, value in (response.get("headers") or {}).items():
            if name.lower() == "sl-violations":  # the mock's report of spec violations
                violations.extend(v for v in value if '"location":["request"' in v)
                if status == 500 and not violations:
                    # The request passed validation (a refused one gets a 4xx first), but
                    # the spec's own example answer breaks its response schema (OpenAI's
                    # Responses examples do): Prism answers 500. The answer is replaced.
                    status = 200
        statuses.append(status)
        if mock:
            response["headers"][RECORDED_AGAINST] = [f"{validator(case)}: HTTP {status}"]
        if replacements:
            # One answer per request of a multi-round case, else the same for every one.
            index = min(len(statuses), len(replacements)) - 1
            response = replacements[index].apply(response, names[index])
        return response

    case.cassette.parent.mkdir(parents=True, exist_ok=True)
    case.cassette.unlink(missing_ok=True)
    recorder = harness.cassette_vcr("all", before_record_response=before_record_response)
    http = harness.CapturingHttpClient(extra)
    if mock and case.rounds:
        http = harness.ScriptedHttpClient([_as_answer(r) for r in replacements], extra)
    with recorder.use_cassette(str(case.cassette)) as cassette:
        run(case, target.configuration(case.variant), http)
        if download is not None:
            # The hand-made answer names a URL the worker downloads: answer that too.
            interaction = download.interaction()
            request = VcrRequest(
                interaction["request"]["method"],
                interaction["request"]["uri"],
                None,
                interaction["request"]["headers"],
            )
            cassette.append(request, interaction["response"])
    if violations:
        case.cassette.unlink()
        raise SystemExit(f"record: the mock refused {case.id}: {violations}")
    return statuses


def _as_answer(replacement: handmade.Handmade) -> HttpResponse:
    """A hand-made answer as the transport hands it to the worker."""
    headers = CaseInsensitiveDict({"Content-Type": replacement.content_type, **replacement.headers})
    return HttpResponse(replacement.status, headers, replacement.content)


def replayed(case: Case) -> tuple[str, bool]:
    """How the finished cassette plays back, offline ("job succeeded"), and whether it
    ended as the case expects."""
    with harness.cassette_vcr("none").use_cassette(str(case.cassette)):
        played = run(
            case, harness.REPLAY.configuration(case.variant), harness.CapturingHttpClient()
        )
    if isinstance(case, batch_cases.BatchCase):
        return played.outcome, played.ok
    job = played.record
    if job["status"] != case.expected.status:
        print(f"          expected job {case.expected.status}: {job['error']}", file=sys.stderr)
    return f"job {job['status']}", job["status"] == case.expected.status


@contextlib.contextmanager
def batch_server(case: Case, target: harness.Target) -> Iterator[harness.Target]:
    """Azure's batch cases talk to a fresh stateful Batch API server; others as given."""
    if not isinstance(case, batch_cases.BatchCase) or case.provider == "openai":
        yield target
        return
    with serve_batch_api(api_key=harness.AZURE_KEY, entra_token=harness.ENTRA_TOKEN) as api:
        yield replace(target, azure_resource=api.url, azure_v1_resource=api.url)


def _usable_live(case: Case, target: harness.Target) -> bool:
    bearer = case.variant.startswith("azure") and case.variant.endswith("bearer")
    return case.live and (not bearer or bool(target.entra_token))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="", help="record only cases whose id contains this")
    args = parser.parse_args(argv)
    live = live_target(dict(os.environ))
    everything: list[Case] = [*cases.by_id().values(), *batch_cases.batch_by_id().values()]
    selected = [case for case in everything if args.only in case.id]
    mocked = [case for case in selected if case.provider not in live]
    if mocked:
        ensure_mocks()
    for case in selected:
        target = live.get(case.provider)
        if target is not None and not _usable_live(case, target):
            print(f"kept      {case.id} (not producible against the real service)")
            continue
        with batch_server(case, target or MOCKS) as where_to:
            statuses = record(case, where_to, mock=target is None)
        where = "live" if target is not None else validator(case)
        if target is None and not _mock_accepted(case, statuses):
            print(f"          the mock refused {case.id}: HTTP {statuses}", file=sys.stderr)
            return 1
        status, expected = replayed(case)
        print(f"recorded  {case.id} ({where}, HTTP {statuses}, replayed: {status})")
        if not expected:
            print(f"          {case.id} did not end as its case expects", file=sys.stderr)
            return 1
    return 0


def _mock_accepted(case: Case, statuses: list[int]) -> bool:
    """Whether the mock validated every request: it answered as asked, never with a 4xx."""
    wanted = case.mock_status or 200
    return bool(statuses) and all(status < 400 or status == wanted for status in statuses)


if __name__ == "__main__":
    raise SystemExit(main())
