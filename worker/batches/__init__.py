"""The batch tier's store: groups of requests waiting for, or travelling in, a provider batch."""

from worker.batches.groups import Added, BatchGroups, Route

__all__ = ["Added", "BatchGroups", "Route"]
