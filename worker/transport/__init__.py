"""HTTP transport: one pooled session per process, timeouts and the retry policy."""

from worker.transport.http import HttpClient, HttpResponse
from worker.transport.policy import RetryPolicy

__all__ = ["HttpClient", "HttpResponse", "RetryPolicy"]
