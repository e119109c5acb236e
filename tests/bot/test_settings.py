"""Settings: every SPEC variable, one clear line for a missing or invalid one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
SPEC_VARIABLES = [
    "DISCORD_TOKEN",
    "SUNO_API_KEY",
    "SUNO_API_BASE_URL",
    "DATABASE_URL",
    "CALLBACK_PUBLIC_URL",
    "CALLBACK_HOST",
    "CALLBACK_PORT",
    "CALLBACK_SECRET",
    "DEV_GUILD_ID",
    "LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "SUNO_", "CALLBACK_", "DATABASE_", "DEV_", "LOG_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("SUNO_API_KEY", "k")
    settings = load_settings()
    assert str(settings.suno_api_base_url) == "https://api.api.box/"
    assert settings.database_url == "sqlite:///data/backline.db"
    assert settings.callback_public_url is None
    assert (settings.callback_host, settings.callback_port) == ("0.0.0.0", 8080)
    assert settings.callback_secret is None and settings.dev_guild_id is None
    assert settings.log_level == "INFO"
    assert settings.suno_default_model == "V4_5PLUS"


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=abc\nSUNO_API_BASE_URL=http://127.0.0.1:8765\n"
        "SUNO_ALLOWED_MODELS=V4_5PLUS, V5, V5_5\nDEV_GUILD_ID=123\n"
    )
    settings = load_settings()
    assert settings.discord_token.get_secret_value() == "abc"
    assert settings.uses_local_api and settings.suno_api_key is None
    assert settings.suno_allowed_models == ["V4_5PLUS", "V5", "V5_5"]
    assert settings.dev_guild_id == 123


def test_secrets_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-token")
    monkeypatch.setenv("SUNO_API_KEY", "suno-secret-key")
    monkeypatch.setenv("CALLBACK_SECRET", "callback-secret-0123456789")
    text = repr(load_settings()) + str(load_settings())
    for secret in ("discord-secret-token", "suno-secret-key", "callback-secret-0123456789"):
        assert secret not in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "setting DISCORD_TOKEN is missing"),
        (
            {"DISCORD_TOKEN": "t"},
            "invalid setting SUNO_API_KEY is required for the hosted music API",
        ),
        (
            {"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "SUNO_API_BASE_URL": "not a url"},
            "SUNO_API_BASE_URL",
        ),
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "CALLBACK_PORT": "eighty"}, "CALLBACK_PORT"),
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "CALLBACK_PORT": "70000"}, "CALLBACK_PORT"),
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "DEV_GUILD_ID": "-4"}, "DEV_GUILD_ID"),
        (
            {"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "DATABASE_URL": "mysql://x"},
            "DATABASE_URL",
        ),
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        (
            {"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "CALLBACK_SECRET": "short"},
            "CALLBACK_SECRET",
        ),
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "TASK_TIMEOUT": "0"}, "TASK_TIMEOUT"),
        (
            {"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "SUNO_DEFAULT_MODEL": "V9"},
            "SUNO_DEFAULT_MODEL must be one of SUNO_ALLOWED_MODELS",
        ),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as info:
        load_settings()
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert "eighty" not in message and "short" not in message  # values are not echoed


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DISCORD_TOKEN": "t", "SUNO_API_KEY": "k", "CALLBACK_PORT": "x"}, "CALLBACK_PORT"),
        ({"DISCORD_TOKEN": "t"}, "SUNO_API_KEY"),
    ],
)
def test_python_m_bot_exits_with_one_line(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SUNO_", "CALLBACK_"))
    }
    clean["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "Traceback" not in result.stderr


def test_env_example_documents_every_setting_and_loads(tmp_path: Path) -> None:
    from bot.settings import Settings

    example = (ROOT / ".env.example").read_text()
    for name in [*SPEC_VARIABLES, *(field.upper() for field in Settings.model_fields)]:
        assert f"\n{name}=" in example, name
    (tmp_path / ".env").write_text(
        example.replace("\nDISCORD_TOKEN=\n", "\nDISCORD_TOKEN=abc\n").replace(
            "SUNO_API_BASE_URL=https://api.api.box", "SUNO_API_BASE_URL=http://127.0.0.1:8765"
        )
    )
    settings = load_settings()
    assert settings.callback_public_url is None and settings.suno_api_key is None


def test_download_allowed_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("SUNO_API_KEY", "k")
    monkeypatch.delenv("DOWNLOAD_ALLOWED_HOSTS", raising=False)
    assert load_settings().download_allowed_hosts == []
    monkeypatch.setenv("DOWNLOAD_ALLOWED_HOSTS", " cdn.example , 10.0.0.5:9000,[::1]:8000 ")
    assert load_settings().download_allowed_hosts == ["cdn.example", "10.0.0.5:9000", "[::1]:8000"]


@pytest.mark.parametrize(
    "value", ["https://cdn.example", "cdn.example/path", "user@cdn.example", "cdn.example:99999"]
)
def test_download_allowed_hosts_refuses_non_hosts(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("SUNO_API_KEY", "k")
    monkeypatch.setenv("DOWNLOAD_ALLOWED_HOSTS", value)
    with pytest.raises(SettingError) as info:
        load_settings()
    assert "DOWNLOAD_ALLOWED_HOSTS" in str(info.value) and value not in str(info.value)


def test_shards_choose_the_sharded_bot(settings: Settings) -> None:
    import aiohttp

    from bot.app import Backline, ShardedBackline, bot_class

    assert bot_class(settings) is Backline
    sharded = settings.model_copy(update={"shard_count": 4, "shard_ids": [2, 3]})
    assert bot_class(sharded) is ShardedBackline
    bot = ShardedBackline(
        settings=sharded,
        session=aiohttp.ClientSession.__new__(aiohttp.ClientSession),  # never used here
        music=None,  # type: ignore[arg-type]
    )
    assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ({"SHARD_IDS": "0,1"}, "needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "between 0"),
    ],
)
def test_shard_settings_are_checked(
    monkeypatch: pytest.MonkeyPatch, shards: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("SUNO_API_KEY", "k")
    for name, value in shards.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=message):
        load_settings()
