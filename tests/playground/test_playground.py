"""The playground: the real bot in an in-memory Discord, served on loopback, no token."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import urllib.request
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.settings import SettingError
from playground import HOSTED_API_REFUSED, Playground, view
from playground.demos import demo_recordings
from playground.page import KEY_HEADER
from simulator import SimulatorConfig
from tests.conftest import FAST, FAST_SCHEDULE
from tests.harness import bot_messages
from tests.support.faults import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("DISCORD_TOKEN", "SUNO_API_KEY", "SUNO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def quick(tmp_path: Path, name: str = "playground") -> Playground:
    return Playground(
        data_dir=tmp_path / name,
        port=free_port(),
        simulator_config=SimulatorConfig(audio_seconds=1.0, sandbox=True, **FAST),
        schedule=FAST_SCHEDULE,
        overrides={"default_cooldown_seconds": 0},  # a member's requests back to back
    )


@pytest.fixture
async def playground(tmp_path: Path, clean_env: None) -> AsyncIterator[Playground]:
    pg = quick(tmp_path)
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


def track_messages(thread: object, bot: object) -> list:
    return [m for m in bot_messages(thread, bot) if m.content.endswith("is ready.")]  # type: ignore[arg-type]


async def test_one_request_in_the_playground(playground: Playground) -> None:
    url = playground.url
    assert url.startswith(f"http://127.0.0.1:{playground.port}/#")
    async with aiohttp.ClientSession() as http, http.get(url.split("#")[0]) as page:
        assert page.status == 200 and "text/html" in page.content_type
    assert playground.settings is not None
    assert playground.settings.database_path == playground.data_dir / "playground.db"
    assert playground.simulator is not None  # no key: the built-in simulator
    bot = playground.bot
    assert bot is not None and bot.user is not None
    assert bot.user.name == "backline"

    name, demo = demo_recordings()[0]
    assert (playground.data_dir / name).read_bytes() == demo  # to attach from disk too
    r = await playground.you.slash(playground.channel, "instrumental", audio=(name, demo))
    assert r.response is not None
    assert r.response.content.startswith("Got it! Follow along in <#")
    [thread] = playground.channel.threads
    posted = await wait_until(
        lambda: len(track_messages(thread, bot)) == 2 and track_messages(thread, bot), timeout=20
    )
    files = sorted(p.attachments[0].filename for p in posted)
    # Named after the take (its title, here the input's stem), never the input's file name.
    assert files == [
        "hummed-melody-c-major-96bpm - instrumental 1.wav",
        "hummed-melody-c-major-96bpm - instrumental 2.wav",
    ]
    assert name not in files
    # One clock: Discord's times are the wall clock's, like the bot's.
    assert abs((posted[-1].created_at - datetime.now(UTC)).total_seconds()) < 60
    # No callback URL is configured: the music API is never asked to call back.
    assert playground.simulator.callbacks_sent == []


async def test_the_page_shows_names_threads_and_players(playground: Playground) -> None:
    name, demo = demo_recordings()[0]
    await playground.you.slash(playground.channel, "instrumental", audio=(name, demo))
    bot = playground.bot
    assert bot is not None
    [thread] = playground.channel.threads
    await wait_until(lambda: len(track_messages(thread, bot)) == 2, timeout=20)
    await wait_until(lambda: any(m.components for m in _messages(playground)), timeout=20)
    headers = {KEY_HEADER: playground.page.key}  # type: ignore[union-attr]
    base = playground.url.split("#")[0]
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{base}api/state") as answer:
            channel = await answer.json()
        async with http.get(f"{base}api/state", params={"channel": str(thread.id)}) as answer:
            inside = await answer.json()
        track = inside["messages"][-1]["attachments"][0]
        async with http.get(track["url"], headers={"Range": "bytes=0-99"}) as part:
            assert part.status == 206 and len(await part.read()) == 100
            assert part.content_type == "audio/x-wav"
    assert [(c["name"], c["thread"]) for c in channel["channels"]] == [
        ("studio", False),
        (thread.name, True),
    ]
    texts = " ".join(m["html"] for m in channel["messages"])
    assert "<@" not in texts and "&lt;@" not in texts and "&lt;#" not in texts
    assert f'data-channel="{thread.id}"' in texts  # "Follow along in #…" opens the thread
    card = next(m for m in channel["messages"] if m["thread"])
    assert card["thread"]["id"] == str(thread.id) and card["author"] == "backline"
    assert "@you" in " ".join(f["html"] for e in card["embeds"] for f in e["fields"])
    assert {"Re-roll", "Tweak", "Details", "Delete"} <= {
        c["label"] for row in card["rows"] for c in row
    }
    assert track["kind"] == "audio" and track["name"].endswith(
        ("instrumental 1.wav", "instrumental 2.wav")
    )
    assert "Add instrumental" in channel["commands"]["menu"]
    assert "instrumental" in [c["name"] for c in channel["commands"]["slash"]]


async def test_page_api_and_attachments_want_the_sessions_secret(
    playground: Playground, tmp_path: Path
) -> None:
    page = playground.page
    assert page is not None
    base = playground.url.split("#")[0]
    [demo_url] = [
        a["url"] for a in _messages(playground)[0].attachments if a["filename"].startswith("hummed")
    ]
    assert demo_url.startswith(f"{base}cdn/{page.key}/")
    async with aiohttp.ClientSession() as http:
        for headers in (
            {},
            {KEY_HEADER: "wrong"},
            {KEY_HEADER: page.key, "Origin": "http://evil.example"},
        ):
            async with http.get(f"{base}api/state", headers=headers) as answer:
                assert answer.status == 403
            async with http.post(
                f"{base}api/send", json={"content": "hi"}, headers=headers
            ) as answer:
                assert answer.status == 403
        async with http.get(demo_url) as answer:
            assert answer.status == 200
        async with http.get(demo_url.replace(page.key, "x" * len(page.key))) as answer:
            assert answer.status == 404
        stripped = demo_url.replace(f"/cdn/{page.key}", "")
        async with http.get(stripped) as answer:
            assert answer.status == 404
        # The music API in process wants the session's key too.
        assert playground.simulator is not None
        sim = playground.simulator.base_url
        body = {
            "uploadUrl": demo_url,
            "tags": "x",
            "title": "x",
            "negativeTags": "",
            "callBackUrl": "https://a.example/",
        }
        async with http.post(f"{sim}/api/v1/generate/add-instrumental", json=body) as answer:
            assert (await answer.json())["code"] == 401
    # Another session: other URLs (nothing to guess from one run to the next).
    other = quick(tmp_path, "other")
    await playground.stop()
    await other.start()
    try:
        again = [
            a["url"] for a in _messages(other)[0].attachments if a["filename"].startswith("hummed")
        ]
        assert again[0] != demo_url and page.key not in again[0]
    finally:
        await other.stop()


def _messages(pg: Playground) -> list:
    assert pg.env is not None
    return sorted(pg.env.backend.messages[pg.channel.id].values(), key=lambda m: m.id)


async def test_a_key_for_the_hosted_api_is_refused_with_a_sentence(
    tmp_path: Path, clean_env: None
) -> None:
    pg = Playground(data_dir=tmp_path / "pg", overrides={"suno_api_key": "k" * 32})
    with pytest.raises(SettingError, match="hosted music API cannot fetch them"):
        await pg.start()
    await pg.stop()
    assert not (tmp_path / "pg").exists()  # refused before anything was made


def test_python_m_bot_with_a_hosted_api_key_refuses_the_playground(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SUNO_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--playground"],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), "SUNO_API_KEY": "k" * 32},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"backline: {HOSTED_API_REFUSED}\n"
    assert done.stdout == ""


def test_markdown_names_mentions_and_escapes_member_text() -> None:
    names = view.Names.__new__(view.Names)
    names.users, names.roles, names.channels = {1: "you"}, {2: "Moderators"}, {3: "studio"}
    out = view.markdown("Hi <@1> <@&2> in <#3> <#9> at <t:100:R>\n**<script>x</script>**", names)
    assert "@you" in out and "@Moderators" in out and ">#studio</a>" in out and "#unknown" in out
    assert '<time data-t="100" data-style="R">' in out
    assert "<script>" not in out and "<strong>&lt;script&gt;x&lt;/script&gt;</strong>" in out
    link = view.markdown("[click](javascript:alert(1)) [ok](https://a.example/x)", names)
    assert "javascript:" not in link.split("[click]")[0] and 'href="javascript' not in link
    assert 'href="https://a.example/x"' in link
    jump = view.markdown("[take](https://discord.com/channels/5/3/7)", names)
    assert 'data-channel="3" data-message="7"' in jump


def test_demo_recordings_are_real_audio() -> None:
    demos = demo_recordings()
    assert len(demos) >= 2
    for name, data in demos:
        with wave.open(io.BytesIO(data)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert name.endswith(".wav") and 5 <= seconds <= 30


@pytest.mark.parametrize("ending", ["page", "SIGINT", "SIGTERM"])
def test_python_m_bot_without_a_token_starts_the_playground_and_ends_with_one_line(
    tmp_path: Path, ending: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SUNO_"))}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--port", str(port)],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(
            "backline playground (no DISCORD_TOKEN is set; music API: the built-in simulator): open"
        )
        assert f"open http://127.0.0.1:{port}/#" in line
        assert (tmp_path / "data" / "playground" / "playground.db").exists()
        key = line.strip().rsplit("#", 1)[1]
        if ending == "page":  # "End session"
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/end",
                data=b"{}",
                headers={KEY_HEADER: key},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
        else:
            process.send_signal(getattr(signal, ending))
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)
    assert process.returncode == 0
    why = "the session was ended in the page" if ending == "page" else f"{ending} received"
    assert out == f"backline playground: {why}; stopped\n"
    assert err == ""


def test_without_the_playground_a_missing_token_is_one_line(tmp_path: Path) -> None:
    """The production image leaves the playground out: no token, no bot, one line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SUNO_"))}
    hide = "import sys; sys.modules['simcord'] = None; from bot.__main__ import main; "
    for argv in ([], ["--playground"]):
        done = subprocess.run(
            [sys.executable, "-c", hide + f"sys.exit(main({argv!r}))"],
            cwd=tmp_path,
            env={**clean, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("backline: ")
    assert not (tmp_path / "data").exists()


async def test_the_bot_holds_the_invites_permissions_only(playground: Playground) -> None:
    from bot.invite import INVITE_PERMISSIONS

    assert playground.guild is not None and playground.bot is not None
    me = playground.guild.me
    assert me is not None
    granted = me.guild_permissions
    assert granted >= INVITE_PERMISSIONS  # the invite's, and @everyone's defaults
    assert not (granted.manage_threads or granted.manage_messages or granted.administrator)


async def test_the_pages_actions_post_in_a_thread_and_fill_the_menus_form(
    playground: Playground,
) -> None:
    name, demo = demo_recordings()[0]
    await playground.you.slash(playground.channel, "instrumental", audio=(name, demo))
    [thread] = playground.channel.threads
    page = playground.page
    assert page is not None and playground.bot is not None
    base = playground.url.split("#")[0]
    welcome = _messages(playground)[0]
    async with aiohttp.ClientSession(headers={KEY_HEADER: page.key}) as http:
        said = {"channel": str(thread.id), "content": "sounds great"}
        async with http.post(f"{base}api/send", json=said) as answer:
            assert answer.status == 200
        menu = {"channel": str(playground.channel.id), "message": str(welcome.id)}
        async with http.post(f"{base}api/menu", json={**menu, "command": "Add instrumental"}) as a:
            form = (await a.json())["modal"]
        assert form["title"] == "Add instrumental"
        [choice] = [c for c in form["controls"] if c["type"] == "select"]
        values = {"tags": "piano ballad", choice["id"]: choice["options"][0]["value"]}
        async with http.post(
            f"{base}api/modal", json={"handle": form["handle"], "values": values}
        ) as a:
            assert a.status == 200, await a.text()
        async with http.post(
            f"{base}api/modal", json={"handle": form["handle"], "values": values}
        ) as a:
            assert a.status == 400 and "already sent" in (await a.json())["error"]
    assert [m.content for m in thread.history() if m.author.id == playground.you.id] == [
        "sounds great"
    ]
    tasks = await playground.bot.store.recent_tasks(playground.you.id, 10)
    assert sorted(t.origin for t in tasks) == ["menu", "slash"]
