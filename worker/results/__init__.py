"""Result records: what a producer reads back for each job."""

from worker.results.deliveries import Deliveries
from worker.results.parts import DEFAULT_PART_BYTES
from worker.results.record import FINAL_STATUSES, STATUSES, iso_after, new_record, now_iso
from worker.results.store import BrokerMessage, MemoryResultStore, RedisResultStore, ResultStore
from worker.results.streamed import StreamedOutput

__all__ = [
    "BrokerMessage",
    "DEFAULT_PART_BYTES",
    "Deliveries",
    "FINAL_STATUSES",
    "STATUSES",
    "MemoryResultStore",
    "RedisResultStore",
    "ResultStore",
    "StreamedOutput",
    "iso_after",
    "new_record",
    "now_iso",
]
