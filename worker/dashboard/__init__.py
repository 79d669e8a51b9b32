"""A small server-rendered web dashboard: charts, queues, recent jobs, batch groups, a
job's record, retry."""

from worker.dashboard.app import Dashboard, serve

__all__ = ["Dashboard", "serve"]
