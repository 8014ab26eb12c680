"""Which VTEPs the doctor's underlay probe sends to: every pair in small labs, else a ring."""

from __future__ import annotations

from toolkit.doctor.probe import FULL_MESH_MAX, RING, probe_peers


def test_small_labs_probe_every_pair() -> None:
    n = FULL_MESH_MAX
    assert all(sorted(probe_peers(i, n)) == [j for j in range(n) if j != i] for i in range(n))


def test_big_labs_probe_a_ring_each_vtep_sends_and_hears_ring_times() -> None:
    n = 100
    sent = [probe_peers(i, n) for i in range(n)]
    assert all(len(set(s)) == RING and i not in s for i, s in enumerate(sent))
    heard = [sum(j in s for s in sent) for j in range(n)]
    assert heard == [RING] * n  # every VTEP is checked as a receiver too
    assert sum(map(len, sent)) == n * RING  # 400 probes each size, not 9,900
