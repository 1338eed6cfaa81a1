"""Fair assignment of partitions to workers (pure: `truenorth.bus.lease.plan`)."""

from __future__ import annotations

import pytest

from truenorth.bus.lease import LeaseTiming, plan, target_count


def simulate(workers: list[str], partitions: int, owned: dict[str, set[int]]) -> None:
    """Ticks of every worker until nothing changes (each sees the others' last state)."""
    for _ in range(50):
        changed = False
        for worker in workers:
            taken = set().union(*owned.values())
            free = {p: 0.0 for p in range(partitions) if p not in taken}
            step = plan(worker, partitions, len(workers), owned[worker], free)
            owned[worker] -= set(step.release)
            owned[worker] |= set(step.acquire)
            changed |= bool(step.release or step.acquire)
        if not changed:
            return
    raise AssertionError("assignment does not settle")


def test_each_worker_targets_its_share_rounded_up() -> None:
    assert [target_count(8, n) for n in (1, 2, 3, 4, 8, 9)] == [8, 4, 3, 2, 1, 1]


def test_three_workers_share_eight_partitions_three_three_two() -> None:
    workers = ["a", "b", "c"]
    owned: dict[str, set[int]] = {w: set() for w in workers}
    simulate(workers, 8, owned)
    assert sorted(len(o) for o in owned.values()) == [2, 3, 3]
    assert set().union(*owned.values()) == set(range(8))


def test_a_joining_worker_gets_partitions_and_the_others_keep_most_of_theirs() -> None:
    owned: dict[str, set[int]] = {"a": set(range(0, 8, 2)), "b": set(range(1, 8, 2))}
    before = {w: set(o) for w, o in owned.items()}
    owned["c"] = set()
    simulate(["a", "b", "c"], 8, owned)
    assert len(owned["c"]) >= 2
    assert all(len(before[w] & owned[w]) == 3 for w in ("a", "b")), "one handed over each"


def test_a_worker_over_its_target_releases_its_least_preferred() -> None:
    step = plan("a", 8, live_workers=2, owned=set(range(8)), free_for={})
    assert len(step.release) == 4 and step.acquire == ()


def test_an_orphan_is_taken_over_target_after_the_grace_period() -> None:
    """A dead worker still counted live (its heartbeat not yet expired) leaves partitions
    free that nobody's target covers."""
    owned = {0, 1, 2}
    assert plan("a", 8, 3, owned, {7: 1.0}, orphan_seconds=1.5).acquire == ()
    assert plan("a", 8, 3, owned, {7: 1.5}, orphan_seconds=1.5).acquire == (7,)


def test_timing_must_renew_well_within_the_ttl() -> None:
    with pytest.raises(ValueError, match="shorter than the ttl"):
        LeaseTiming(ttl=3, renew_every=2, margin=1.5)
