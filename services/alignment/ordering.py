"""Which fetched messages a projector folds now: the ones right after its checkpoint."""

from __future__ import annotations

from nats.aio.msg import Msg


def classify(position: int, msgs: list[Msg]) -> tuple[list[Msg], list[Msg], list[Msg]]:
    """Messages sorted by stream sequence -> (contiguous after the checkpoint `position`,
    stale: folded already, early: another instance holds the messages before these)."""
    contiguous: list[Msg] = []
    stale: list[Msg] = []
    early: list[Msg] = []
    next_seq = position + 1
    for msg in msgs:
        seq = msg.metadata.sequence.stream
        if seq <= position:
            stale.append(msg)
        elif seq == next_seq:
            contiguous.append(msg)
            next_seq += 1
        else:
            early.append(msg)
    return contiguous, stale, early
