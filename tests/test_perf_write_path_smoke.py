"""The write-path benchmark runs end to end; its numbers are never judged here."""

from __future__ import annotations

from perf import bench_write_path


async def test_the_write_path_benchmark_times_a_batch_and_a_fact() -> None:
    batch, fact = await bench_write_path.measure(batches=1, facts=2)
    assert fact > 0 and batch > 0
