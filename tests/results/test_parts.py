"""Large outputs kept in parts: written before the record, read back whole, never mixed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from support import make_configuration

from worker.engine.runner import Done
from worker.keys import Keys
from worker.results import MemoryResultStore, RedisResultStore, StreamedOutput, new_record

PART_BYTES = 1000


class Numbers(StreamedOutput):
    """``{"numbers": [...]}``, written a few numbers at a time."""

    def __init__(self, numbers: list[int]) -> None:
        self.numbers = numbers

    def json_pieces(self) -> Iterator[bytes]:
        yield b'{"numbers": ['
        for start in range(0, len(self.numbers), 10):
            text = ",".join(map(str, self.numbers[start : start + 10]))
            yield (text if start == 0 else "," + text).encode()
        yield b"]}"

    def __getitem__(self, name: str) -> Any:
        if name != "numbers":
            raise KeyError(name)
        return self.numbers

    def __iter__(self) -> Iterator[str]:
        return iter(("numbers",))

    def __len__(self) -> int:
        return 1


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(connection: redis.Redis, namespace: str) -> RedisResultStore:
    return RedisResultStore(connection, Keys(namespace), ttl_s=60, part_bytes=PART_BYTES)


def succeeded(job_id: str, output: Any) -> dict[str, Any]:
    record = new_record(job_id, "embeddings_list_input", "main")
    return {**record, "status": "succeeded", "success": True, "output": output}


def part_keys(connection: redis.Redis, namespace: str, job_id: str) -> list[bytes]:
    # SCAN may return a key twice (when Redis resizes its table meanwhile): a set.
    return sorted(set(connection.scan_iter(match=f"{namespace}:output:{job_id}:*")))


def big_output(seed: int = 0) -> dict[str, Any]:
    return {
        "rows": [{"i": i, "text": f"row {i} of {seed}", "v": [i / 7, seed]} for i in range(200)]
    }


def test_an_output_over_the_part_size_reads_back_identical(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    record = succeeded("j1", big_output())

    store.put(record)

    assert store.get("j1") == record
    parts = part_keys(connection, namespace, "j1")
    assert len(parts) == -(-len(json.dumps(record["output"])) // PART_BYTES)
    assert all(connection.strlen(key) <= PART_BYTES for key in parts)
    stored = json.loads(connection.hget(f"{namespace}:job:j1", "record"))
    assert stored["output"] is None
    assert stored["_output_parts"]["count"] == len(parts)


def test_a_streamed_output_is_written_in_parts_and_read_back_as_a_dict(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    numbers = list(range(3000))

    store.put(succeeded("j2", Numbers(numbers)))

    record = store.get("j2")
    assert record is not None
    assert record["output"] == {"numbers": numbers}
    assert len(part_keys(connection, namespace, "j2")) > 1


def test_an_output_within_the_part_size_stays_in_the_record(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    store.put(succeeded("j3", Numbers([1, 2, 3])))

    assert store.get("j3")["output"] == {"numbers": [1, 2, 3]}
    assert part_keys(connection, namespace, "j3") == []


def test_a_duplicate_delivery_cannot_mix_its_parts_with_the_winners(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    # Given a second delivery of the same job finishing after the first one won
    first, second = big_output(1), big_output(2)
    store.put(succeeded("j4", first))
    winners_parts = part_keys(connection, namespace, "j4")

    written = store.put(succeeded("j4", second))

    # Then its record is refused, its parts are gone, and the winner's stay whole
    assert written is False
    assert store.get("j4")["output"] == first
    assert part_keys(connection, namespace, "j4") == winners_parts


def test_parts_being_written_by_another_delivery_are_never_read(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    # Given a slower delivery that has written its parts but not yet its record
    loser = store.parts.write("j5", iter([json.dumps(big_output(2)).encode()]), ttl_s=60)
    store.put(succeeded("j5", big_output(1)))

    # Then readers see only the winner's parts; the other ones expire on their own
    assert store.get("j5")["output"] == big_output(1)
    assert not isinstance(loser, bytes)
    for key in store.parts.keys("j5", loser):
        assert 0 < connection.ttl(key) <= 60


def test_parts_expire_with_the_record(connection: redis.Redis, namespace: str) -> None:
    store = RedisResultStore(connection, Keys(namespace), ttl_s=123, part_bytes=PART_BYTES)

    store.put(succeeded("j6", big_output()))

    parts = part_keys(connection, namespace, "j6")
    assert parts
    for key in [f"{namespace}:job:j6".encode(), *parts]:
        assert 0 < connection.ttl(key) <= 123


def test_a_forced_overwrite_deletes_the_parts_it_replaces(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    store.put(succeeded("j7", big_output()))

    store.put(new_record("j7", "embeddings_list_input", "main"), force=True)

    assert part_keys(connection, namespace, "j7") == []
    assert store.get("j7")["status"] == "queued"


def test_a_record_whose_parts_have_gone_reads_as_expired(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    store.put(succeeded("j8", big_output()))

    connection.delete(part_keys(connection, namespace, "j8")[0])

    assert store.get("j8") is None


def test_the_clients_result_is_the_whole_output(
    client: Any, connection: redis.Redis, namespace: str
) -> None:
    writer = RedisResultStore(connection, Keys(namespace), ttl_s=60, part_bytes=PART_BYTES)
    writer.put(succeeded("j9", Numbers(list(range(2000)))))

    record = client.result("j9")

    assert record["output"] == {"numbers": list(range(2000))}
    assert "_output_parts" not in record


def test_the_memory_store_reads_a_streamed_output_as_a_dict() -> None:
    store = MemoryResultStore()

    store.put(succeeded("j10", Numbers([4, 5, 6])))

    assert store.get("j10")["output"] == {"numbers": [4, 5, 6]}


def test_a_status_read_leaves_the_parts_unread(store: RedisResultStore) -> None:
    store.put(succeeded("j11", big_output()))

    record = store.get("j11", read_output=False)

    assert record is not None
    assert record["status"] == "succeeded"
    assert record["output"] is None
    assert "_output_parts" not in record


def test_a_redelivered_finished_job_is_skipped_without_reading_its_output(
    run_job: Any, wire_server: Any, store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    # Given a finished job whose output parts cannot be read
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.runner.results = store
    store.put(succeeded("j12", big_output()))
    connection.delete(part_keys(connection, namespace, "j12")[0])

    decision = harness.runner.run("j12", "embeddings_list_input", {"configuration": "test"})

    # Then its status alone decides: nothing runs again
    assert decision == Done("succeeded")
    assert wire_server.requests == []
