"""Settings read once from the environment into a frozen object.

Only this module reads ``os.environ`` for worker settings; everything else receives a
``Settings``. Defaults suit LLM calls: a long read timeout (completions can take
minutes) and a handful of retries with exponential backoff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from worker.errors import SettingsError
from worker.webhooks import secret_key

DEFAULT_TIMEOUT_S = 120.0
#: Read timeouts of the operations whose answers can take long (high-quality images,
#: reasoning models); embeddings and raw requests use ``DEFAULT_TIMEOUT_S``.
DEFAULT_OPERATION_TIMEOUTS_S = {"chat": 600.0, "images": 600.0, "embeddings": 120.0}
DEFAULT_MAX_QUEUE_WAIT_S = 24 * 3600.0
DEFAULT_DOWNLOAD_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_BACKOFF_BASE_S = 2.0
DEFAULT_BACKOFF_MAX_S = 120.0
DEFAULT_RESULT_TTL_S = 7 * 24 * 3600
#: Entries the events stream keeps, about (``XADD … MAXLEN ~``): some 30,000 jobs'
#: status changes, about 10 MB.
DEFAULT_EVENTS_MAXLEN = 100_000
DEFAULT_NAMESPACE = "openai-worker"
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0
DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_TOOL_ROUNDS = 10
DEFAULT_METRICS_HOST = "127.0.0.1"
#: The smallest thread stack the worker accepts: below it deep calls (TLS, JSON parsing
#: of large answers) may overflow it, which kills the process rather than failing a job.
MIN_THREAD_STACK_KIB = 256
MAX_THREAD_STACK_KIB = 65536
AMQP_SCHEMES = ("amqp://", "amqps://")
BROKER_SCHEMES = ("redis://", "rediss://", "unix://", *AMQP_SCHEMES)
_NAMESPACE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The providers' Batch API limits per input file (OpenAI's and Azure's batch guides).
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_BATCH_WINDOW_S = 300.0
DEFAULT_BATCH_POLL_MIN_S = 30.0
DEFAULT_BATCH_POLL_MAX_S = 600.0
#: One webhook attempt, connection to answer (Standard Webhooks suggests 15 to 30 s).
DEFAULT_WEBHOOK_TIMEOUT_S = 15.0
DEFAULT_WEBHOOK_BACKOFF_BASE_S = 5.0
DEFAULT_WEBHOOK_BACKOFF_MAX_S = 3600.0
#: How long a webhook is tried, from its first attempt.
DEFAULT_WEBHOOK_MAX_AGE_S = 24 * 3600.0
#: Above this, a webhook leaves the output out (its JSON text, in bytes).
DEFAULT_WEBHOOK_MAX_OUTPUT_BYTES = 256 * 1024


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value < minimum:  # NaN, or below the minimum
        raise SettingsError(f"{name} must be a number >= {minimum}, got {raw!r}")
    return value


def _default_data_dir(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or str(Path.home())
    base = env.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(base) / "openai-worker"


@dataclass(frozen=True)
class BatchSettings:
    """The batch tier: when a group of requests is sealed, how often a batch is polled."""

    #: Requests per provider batch file (the providers' cap is 50,000).
    max_requests: int = BATCH_MAX_REQUESTS
    #: Bytes per batch file (the providers' cap is 200 MB).
    max_bytes: int = BATCH_MAX_BYTES
    #: How long the oldest request of a group waits for more before the group is sealed.
    window_s: float = DEFAULT_BATCH_WINDOW_S
    #: The first wait between polls of a provider batch, doubled up to ``poll_max_s``.
    poll_min_s: float = DEFAULT_BATCH_POLL_MIN_S
    poll_max_s: float = DEFAULT_BATCH_POLL_MAX_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BatchSettings:
        max_requests = int(
            _number(env, "OPENAI_WORKER_BATCH_MAX_REQUESTS", BATCH_MAX_REQUESTS, minimum=1)
        )
        max_bytes = int(_number(env, "OPENAI_WORKER_BATCH_MAX_BYTES", BATCH_MAX_BYTES, minimum=1))
        if max_requests > BATCH_MAX_REQUESTS or max_bytes > BATCH_MAX_BYTES:
            raise SettingsError(
                f"OPENAI_WORKER_BATCH_MAX_REQUESTS may be at most {BATCH_MAX_REQUESTS} and "
                f"OPENAI_WORKER_BATCH_MAX_BYTES at most {BATCH_MAX_BYTES}: the providers' "
                "limits per batch file"
            )
        poll_min_s = _number(
            env, "OPENAI_WORKER_BATCH_POLL_MIN_S", DEFAULT_BATCH_POLL_MIN_S, minimum=0.01
        )
        return cls(
            max_requests=max_requests,
            max_bytes=max_bytes,
            window_s=_number(
                env, "OPENAI_WORKER_BATCH_WINDOW_S", DEFAULT_BATCH_WINDOW_S, minimum=0
            ),
            poll_min_s=poll_min_s,
            poll_max_s=max(
                poll_min_s,
                _number(
                    env, "OPENAI_WORKER_BATCH_POLL_MAX_S", DEFAULT_BATCH_POLL_MAX_S, minimum=0.01
                ),
            ),
        )


@dataclass(frozen=True)
class WebhookSettings:
    """Webhooks: the signing secrets, where they may go, how they are retried."""

    #: ``whsec_…`` secrets; the first signs, every one adds a signature (a rotation).
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Host names (``host`` or ``host:port``) a webhook may reach even at a loopback or
    #: private address, and over plain http.
    allow_hosts: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S
    #: The first wait after a failed attempt, doubling up to ``backoff_max_s``.
    backoff_base_s: float = DEFAULT_WEBHOOK_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_WEBHOOK_BACKOFF_MAX_S
    max_age_s: float = DEFAULT_WEBHOOK_MAX_AGE_S
    max_output_bytes: int = DEFAULT_WEBHOOK_MAX_OUTPUT_BYTES
    #: Where the HTTP job API is reachable, for the ``links.result`` of a webhook.
    public_api_url: str | None = None

    @property
    def can_sign(self) -> bool:
        return bool(self.secrets)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        secrets = _split(env.get("OPENAI_WORKER_WEBHOOK_SECRET"))
        for position, secret in enumerate(secrets, 1):
            try:
                secret_key(secret)
            except ValueError as exc:  # its message never quotes the secret
                raise SettingsError(
                    f"OPENAI_WORKER_WEBHOOK_SECRET (secret {position}): {exc}; "
                    "`openai-worker webhook-secret` prints a new one"
                ) from None
        public_api_url = (env.get("OPENAI_WORKER_PUBLIC_API_URL") or "").strip().rstrip("/")
        if public_api_url and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", public_api_url):
            raise SettingsError(
                "OPENAI_WORKER_PUBLIC_API_URL must be an http(s) URL without query, such as "
                f"https://jobs.example.com, got {public_api_url!r}"
            )
        backoff_base_s = _number(
            env,
            "OPENAI_WORKER_WEBHOOK_BACKOFF_BASE_S",
            DEFAULT_WEBHOOK_BACKOFF_BASE_S,
            minimum=0.01,
        )
        return cls(
            secrets=secrets,
            allow_hosts=tuple(_allowed_host(h) for h in _split(env.get(_ALLOW_HOSTS))),
            timeout_s=_number(
                env, "OPENAI_WORKER_WEBHOOK_TIMEOUT_S", DEFAULT_WEBHOOK_TIMEOUT_S, minimum=0.1
            ),
            backoff_base_s=backoff_base_s,
            backoff_max_s=max(
                backoff_base_s,
                _number(
                    env,
                    "OPENAI_WORKER_WEBHOOK_BACKOFF_MAX_S",
                    DEFAULT_WEBHOOK_BACKOFF_MAX_S,
                    minimum=0.01,
                ),
            ),
            max_age_s=_number(
                env, "OPENAI_WORKER_WEBHOOK_MAX_AGE_S", DEFAULT_WEBHOOK_MAX_AGE_S, minimum=0
            ),
            max_output_bytes=int(
                _number(
                    env,
                    "OPENAI_WORKER_WEBHOOK_MAX_OUTPUT_BYTES",
                    DEFAULT_WEBHOOK_MAX_OUTPUT_BYTES,
                    minimum=0,
                )
            ),
            public_api_url=public_api_url or None,
        )


_ALLOW_HOSTS = "OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS"
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(:\d{1,5})?$")


def _allowed_host(entry: str) -> str:
    """One ``host`` or ``host:port`` of the allow list, lower-cased (IPv6 in brackets)."""
    host = entry.lower()
    if ":" in host and not host.startswith("[") and host.count(":") > 1:
        host = f"[{host}]"  # a bare IPv6 address, without a port
    matched = _HOST.match(host)
    if not matched or (matched.group(2) and not 0 < int(matched.group(2)[1:]) < 65536):
        raise SettingsError(
            f"{_ALLOW_HOSTS} takes host names or host:port, comma-separated; got {entry!r}"
        )
    return host


@dataclass(frozen=True)
class Settings:
    """Everything the worker, the CLI and the client need from the environment."""

    redis_url: str | None = None
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    function_modules: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    #: Read timeouts by kind of operation (``chat``, ``images``, ``embeddings``); a kind
    #: not listed uses ``timeout_s``.
    operation_timeouts_s: Mapping[str, float] = field(default_factory=dict)
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    result_ttl_s: int = DEFAULT_RESULT_TTL_S
    #: How many status changes the events stream (``Keys.events``) keeps, about.
    events_maxlen: int = DEFAULT_EVENTS_MAXLEN
    namespace: str = DEFAULT_NAMESPACE
    data_dir: Path = field(default_factory=lambda: _default_data_dir(os.environ))
    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    #: How many rounds of tool calls one chat call may run before the job fails.
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    #: The window of the per-configuration rate limits; a minute unless testing.
    rate_limit_window_s: int = 60
    #: A pool member's first cooldown after a 429, 5xx or timeout (doubling with each
    #: failure in a row), and the longest (a provider's ``Retry-After`` included).
    pool_cooldown_s: float = 5.0
    pool_cooldown_max_s: float = 300.0
    #: The longest a job waits for rate-limit capacity in all before it fails.
    max_queue_wait_s: float = DEFAULT_MAX_QUEUE_WAIT_S
    #: The whole download of a generated image (its URL expires soon), start to end.
    download_timeout_s: float = DEFAULT_DOWNLOAD_TIMEOUT_S
    log_format: str = "auto"
    log_level: str = "INFO"
    #: Offline replay: answer provider calls from the cassettes in this directory.
    replay_dir: Path | None = None
    #: Where jobs travel: ``amqp://…`` for RabbitMQ, ``redis://…`` for a broker Redis
    #: apart from the results one; unset: the results Redis.
    broker_url: str | None = None
    #: Serve Prometheus metrics for every worker process of this host on this port.
    metrics_port: int | None = None
    metrics_host: str = DEFAULT_METRICS_HOST
    #: Where the worker processes of a host share their metric values (multiprocess mode).
    metrics_dir: Path | None = None
    #: The dashboard's token; required when it binds beyond loopback.
    dashboard_token: str | None = field(default=None, repr=False)
    #: The stack size of the worker threads, in KiB; None: the worker chooses (the
    #: platform's, 8 MiB on Linux, or 1 MiB past 256 threads a process). Address space
    #: more than memory: only the pages a thread touches are resident.
    thread_stack_kib: int | None = None
    #: How many worker threads of a process run a job's own code at once (``worker.turns``);
    #: None: the worker chooses (no limit, or 8 past 64 threads a process); 0: no
    #: limit.
    turns: int | None = None
    batch: BatchSettings = field(default_factory=BatchSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    def read_timeout_s(self, kind: str) -> float:
        """How long a call of this kind of operation may take to answer."""
        return self.operation_timeouts_s.get(kind, self.timeout_s)

    @property
    def uses_rabbitmq(self) -> bool:
        """Whether jobs travel on RabbitMQ (``BROKER_URL=amqp://…``) rather than Redis."""
        return bool(self.broker_url and self.broker_url.startswith(AMQP_SCHEMES))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raise ``SettingsError`` naming the variable that is wrong."""
        env = os.environ if env is None else env
        log_format = env.get("OPENAI_WORKER_LOG_FORMAT", "auto").strip().lower() or "auto"
        if log_format not in {"auto", "json", "console"}:
            raise SettingsError(
                f"OPENAI_WORKER_LOG_FORMAT must be auto, json or console, got {log_format!r}"
            )
        namespace = env.get("OPENAI_WORKER_NAMESPACE", DEFAULT_NAMESPACE).strip()
        if not _NAMESPACE.match(namespace):
            # ':' and glob characters would let one namespace's scans match another's keys.
            raise SettingsError(
                "OPENAI_WORKER_NAMESPACE may hold only letters, digits, '-', '_' and '.' "
                f"(1-64 of them), got {namespace!r}"
            )
        data_dir = env.get("OPENAI_WORKER_DATA_DIR")
        replay_dir = (env.get("OPENAI_WORKER_REPLAY_DIR") or "").strip()
        broker_url = (env.get("BROKER_URL") or "").strip() or None
        if broker_url and not broker_url.startswith(BROKER_SCHEMES):
            raise SettingsError(
                f"BROKER_URL must start with one of {', '.join(BROKER_SCHEMES)}, "
                f"got {broker_url.split(':', 1)[0]!r}"
            )
        metrics_port = (env.get("OPENAI_WORKER_METRICS_PORT") or "").strip()
        timeout_s = _number(env, "OPENAI_WORKER_TIMEOUT_S", DEFAULT_TIMEOUT_S, minimum=0.001)
        metrics_dir = (env.get("OPENAI_WORKER_METRICS_DIR") or "").strip()
        return cls(
            redis_url=(env.get("REDIS_URL") or "").strip() or None,
            secret_keys=_split(env.get("OPENAI_WORKER_SECRET_KEY")),
            function_modules=_split(env.get("OPENAI_WORKER_FUNCTION_MODULES")),
            timeout_s=timeout_s,
            connect_timeout_s=_number(
                env, "OPENAI_WORKER_CONNECT_TIMEOUT_S", DEFAULT_CONNECT_TIMEOUT_S, minimum=0.001
            ),
            max_retries=int(
                _number(env, "OPENAI_WORKER_MAX_RETRIES", DEFAULT_MAX_RETRIES, minimum=0)
            ),
            result_ttl_s=int(
                _number(env, "OPENAI_WORKER_RESULT_TTL_S", DEFAULT_RESULT_TTL_S, minimum=1)
            ),
            events_maxlen=int(
                _number(env, "OPENAI_WORKER_EVENTS_MAXLEN", DEFAULT_EVENTS_MAXLEN, minimum=1)
            ),
            namespace=namespace,
            data_dir=Path(data_dir) if data_dir else _default_data_dir(env),
            heartbeat_timeout_s=_number(
                env,
                "OPENAI_WORKER_HEARTBEAT_TIMEOUT_S",
                DEFAULT_HEARTBEAT_TIMEOUT_S,
                minimum=1,
            ),
            max_payload_bytes=int(
                _number(
                    env, "OPENAI_WORKER_MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES, minimum=1024
                )
            ),
            max_tool_rounds=int(
                _number(env, "OPENAI_WORKER_MAX_TOOL_ROUNDS", DEFAULT_MAX_TOOL_ROUNDS, minimum=1)
            ),
            log_format=log_format,
            log_level=env.get("OPENAI_WORKER_LOG_LEVEL", "INFO").strip().upper() or "INFO",
            replay_dir=Path(replay_dir) if replay_dir else None,
            broker_url=broker_url,
            metrics_port=(
                int(_number(env, "OPENAI_WORKER_METRICS_PORT", 0, minimum=1))
                if metrics_port
                else None
            ),
            metrics_host=(env.get("OPENAI_WORKER_METRICS_HOST") or "").strip()
            or DEFAULT_METRICS_HOST,
            metrics_dir=Path(metrics_dir) if metrics_dir else None,
            dashboard_token=(env.get("OPENAI_WORKER_DASHBOARD_TOKEN") or "").strip() or None,
            backoff_base_s=_number(
                env, "OPENAI_WORKER_BACKOFF_BASE_S", DEFAULT_BACKOFF_BASE_S, minimum=0.001
            ),
            backoff_max_s=_number(
                env, "OPENAI_WORKER_BACKOFF_MAX_S", DEFAULT_BACKOFF_MAX_S, minimum=0.001
            ),
            rate_limit_window_s=int(
                _number(env, "OPENAI_WORKER_RATE_LIMIT_WINDOW_S", 60, minimum=1)
            ),
            pool_cooldown_s=_number(env, "OPENAI_WORKER_POOL_COOLDOWN_S", 5.0, minimum=0.001),
            pool_cooldown_max_s=_number(
                env, "OPENAI_WORKER_POOL_COOLDOWN_MAX_S", 300.0, minimum=0.001
            ),
            max_queue_wait_s=_number(
                env, "OPENAI_WORKER_MAX_QUEUE_WAIT_S", DEFAULT_MAX_QUEUE_WAIT_S, minimum=0
            ),
            operation_timeouts_s=_operation_timeouts(
                env, timeout_s if (env.get("OPENAI_WORKER_TIMEOUT_S") or "").strip() else None
            ),
            download_timeout_s=_number(
                env, "OPENAI_WORKER_DOWNLOAD_TIMEOUT_S", DEFAULT_DOWNLOAD_TIMEOUT_S, minimum=0.1
            ),
            thread_stack_kib=_stack_kib(env),
            turns=_turns(env),
            batch=BatchSettings.from_env(env),
            webhooks=WebhookSettings.from_env(env),
        )


def _stack_kib(env: Mapping[str, str]) -> int | None:
    """``OPENAI_WORKER_THREAD_STACK_KIB``: unset or 0 for the platform's default."""
    kib = int(_number(env, "OPENAI_WORKER_THREAD_STACK_KIB", 0, minimum=0))
    if kib and not MIN_THREAD_STACK_KIB <= kib <= MAX_THREAD_STACK_KIB:
        raise SettingsError(
            f"OPENAI_WORKER_THREAD_STACK_KIB must be 0 (the platform's default) or between "
            f"{MIN_THREAD_STACK_KIB} and {MAX_THREAD_STACK_KIB}, got {kib}"
        )
    return kib or None


def _turns(env: Mapping[str, str]) -> int | None:
    """``OPENAI_WORKER_TURNS``: unset for the worker's choice, 0 for no limit."""
    raw = (env.get("OPENAI_WORKER_TURNS") or "").strip()
    if not raw:
        return None
    return int(_number(env, "OPENAI_WORKER_TURNS", 0, minimum=0))


def _operation_timeouts(env: Mapping[str, str], general: float | None) -> dict[str, float]:
    """``OPENAI_WORKER_{KIND}_TIMEOUT_S``; unset, ``general`` (``OPENAI_WORKER_TIMEOUT_S``
    when it was set), else the kind's default."""
    return {
        kind: _number(
            env,
            f"OPENAI_WORKER_{kind.upper()}_TIMEOUT_S",
            default if general is None else general,
            minimum=0.001,
        )
        for kind, default in DEFAULT_OPERATION_TIMEOUTS_S.items()
    }
