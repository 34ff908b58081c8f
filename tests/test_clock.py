"""Clocks: system (checked with freezegun), manual (forward only) and scaled."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from simulator.clock import ClockError, ManualClock, ScaledClock, SystemClock


def test_system_clock_reads_real_time() -> None:
    with freeze_time("2026-11-23 09:00:00", real_asyncio=True) as frozen:
        assert SystemClock().now_ms() == 1_795_424_400_000
        frozen.tick(1.5)
        assert SystemClock().now_ms() == 1_795_424_401_500


def test_manual_clock_is_frozen_until_moved_forward() -> None:
    clock = ManualClock(1_000)
    assert clock.now_ms() == clock.now_ms() == 1_000
    assert clock.advance(500) == 1_500
    assert clock.set(2_000) == 2_000
    with pytest.raises(ClockError):
        clock.advance(-1)
    with pytest.raises(ClockError):
        clock.set(1_999)
    assert clock.now_ms() == 2_000


def test_scaled_clock_runs_k_times_faster_from_its_origin() -> None:
    real = ManualClock(10_000)
    scaled = ScaledClock(60, origin_ms=10_000, real=real)
    assert scaled.now_ms() == 10_000
    real.advance(1_000)
    assert scaled.now_ms() == 10_000 + 60_000


def test_processes_sharing_an_origin_agree_on_virtual_time() -> None:
    real = ManualClock(50_000)
    first, second = ScaledClock(30, origin_ms=40_000, real=real), ScaledClock(30, origin_ms=40_000, real=real)
    assert first.now_ms() == second.now_ms() == 40_000 + 300_000


def test_scale_must_be_positive() -> None:
    with pytest.raises(ClockError):
        ScaledClock(0)


def test_the_manual_clock_is_capped_at_the_year_9999() -> None:
    from simulator.clock import MAX_MANUAL_MS, ClockError, ManualClock

    clock = ManualClock(1_795_000_000_000)
    with pytest.raises(ClockError, match="year 9999"):
        clock.advance(2**62)
    with pytest.raises(ClockError, match="year 9999"):
        clock.set(MAX_MANUAL_MS + 1)
    assert clock.now_ms() == 1_795_000_000_000
    assert clock.set(MAX_MANUAL_MS) == MAX_MANUAL_MS
