"""HTTP transport: one pooled session per process, timeouts, offline replay.

Whether and when a failed call is tried again is ``worker.retries``'s decision; this
package only applies its connect-retry level inside one call.
"""

from worker.transport.http import HttpClient, HttpResponse

__all__ = ["HttpClient", "HttpResponse"]
