"""Result records: what a producer reads back for each job."""

from worker.results.record import FINAL_STATUSES, STATUSES, new_record, now_iso
from worker.results.store import MemoryResultStore, RedisResultStore, ResultStore

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "MemoryResultStore",
    "RedisResultStore",
    "ResultStore",
    "new_record",
    "now_iso",
]
