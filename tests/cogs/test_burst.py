"""Many `/instrumental` in flight at once (the shape bench_ack measures): each is
acknowledged, answered privately and recorded exactly once."""

from __future__ import annotations

from tests.harness import WAV, Harness, World
from tests.support.burst import AckClock, emit, slash_payload

BURST = 12


async def test_a_burst_of_requests_is_each_acknowledged_and_recorded_once(
    harness: Harness, world: World
) -> None:
    env = harness.env
    members = [world.guild.add_member(env.create_user(f"member-{n}")) for n in range(BURST)]
    payloads = [
        slash_payload(
            env, world.guild.id, world.channel.id, member, "instrumental",
            {"audio": (f"take-{member.id}.wav", WAV)},
        )
        for member in members
    ]  # fmt: skip
    ids = [int(payload["id"]) for payload in payloads]
    clock = AckClock()
    with clock.installed():
        clock.expect(ids)
        for payload in payloads:
            emit(env, payload)
        assert await clock.all_in(timeout=60)
        await env.settle(timeout=60)
    assert sorted(clock.acked) == sorted(ids)
    for member in members:
        [task] = await harness.tasks(member.id)
        assert task.interaction_id in ids
    assert len(world.channel.threads) == BURST  # one card and thread each
