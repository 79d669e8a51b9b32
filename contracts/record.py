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
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run by path or with -m: cases, harness, handmade

import cases  # noqa: E402
import handmade  # noqa: E402
import harness  # noqa: E402

UP_SCRIPT = HERE.parent.parent / "shared" / "tools" / "prism" / "up.sh"
MOCKS = harness.Target(
    openai_base="http://127.0.0.1:4010/v1",
    azure_resource="http://127.0.0.1:4011",
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
    """Start the spec mocks with up.sh unless both already answer."""
    if _answers("http://127.0.0.1:4010/") and _answers("http://127.0.0.1:4011/"):
        return
    if not UP_SCRIPT.exists():
        raise SystemExit(f"record: the mocks are not running and {UP_SCRIPT} is missing")
    subprocess.run(["bash", str(UP_SCRIPT)], check=True)


def record(case: cases.ContractCase, target: harness.Target, *, mock: bool) -> harness.Delivery:
    """Run the case once under a recording cassette, replacing the answer if handmade."""
    extra = {}
    if mock and case.mock_status:
        extra[harness.MOCK_STATUS_HEADER] = f"code={case.mock_status}"
    replacement = handmade.RESPONSES[case.handmade] if mock and case.handmade else None
    violations: list[str] = []

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response = harness.scrub_response(response)
        for name, value in (response.get("headers") or {}).items():
            if name.lower() == "sl-violations":  # the Azure mock's report of a spec violation
                violations.extend(value)
        if replacement is not None:
            response = replacement.apply(response, str(case.handmade))
        return response

    case.cassette.parent.mkdir(parents=True, exist_ok=True)
    case.cassette.unlink(missing_ok=True)
    recorder = harness.cassette_vcr("all", before_record_response=before_record_response)
    with recorder.use_cassette(str(case.cassette)):
        delivery = harness.deliver(
            case, target.configuration(case.variant), harness.CapturingHttpClient(extra)
        )
    if violations:
        case.cassette.unlink()
        raise SystemExit(f"record: the mock refused {case.id}: {violations}")
    return delivery


def _usable_live(case: cases.ContractCase, target: harness.Target) -> bool:
    return case.live and (case.variant != "azure_bearer" or bool(target.entra_token))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="", help="record only cases whose id contains this")
    args = parser.parse_args(argv)
    live = live_target(dict(os.environ))
    selected = [case for case in cases.by_id().values() if args.only in case.id]
    mocked = [case for case in selected if case.provider not in live]
    if mocked:
        ensure_mocks()
    for case in selected:
        target = live.get(case.provider)
        if target is not None and not _usable_live(case, target):
            print(f"kept      {case.id} (not producible against the real service)")
            continue
        delivery = record(case, target or MOCKS, mock=target is None)
        where = "live" if target is not None else "mock"
        status = delivery.record["status"]
        print(f"recorded  {case.id} ({where}, {len(delivery.sent)} request(s), job {status})")
        if target is None and not _mock_accepted(case, delivery.record):
            print(f"          the mock refused it: {delivery.record['error']}", file=sys.stderr)
            return 1
    return 0


def _mock_accepted(case: cases.ContractCase, record: dict[str, Any]) -> bool:
    """Whether the mock validated the request: it answered as asked, not with a 4xx."""
    if case.mock_status:
        return bool((record["error"] or {}).get("status_code") == case.mock_status)
    return bool(record["status"] == "succeeded")


if __name__ == "__main__":
    raise SystemExit(main())
