"""What the Docker image is built from (Docker cannot run where backline is developed:
these check the files it reads)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_base_images_are_pinned_to_an_exact_release() -> None:
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+|\S+@sha256:[0-9a-f]{64}", base), base
    compose = (ROOT / "docker-compose.yml").read_text()
    for image in re.findall(r"image: (\S+)", compose):
        assert re.fullmatch(r"[\w/]+:\d+\.\d+[\w.-]*|\S+@sha256:[0-9a-f]{64}", image), image


def test_the_env_example_database_lands_in_the_volume(tmp_path: Path) -> None:
    """`docker run --env-file .env` passes .env.example's DATABASE_URL line as it is; from
    the image's working directory it must name the file in the /data volume."""
    [line] = [
        x for x in (ROOT / ".env.example").read_text().splitlines() if x.startswith("DATABASE_URL=")
    ]
    value = line.removeprefix("DATABASE_URL=")
    workdir = re.findall(r"^WORKDIR (\S+)", DOCKERFILE.split("\nFROM ")[-1], re.MULTILINE)[-1]
    assert 'VOLUME ["/data"]' in DOCKERFILE
    overrides = {"database_url": value} if value else {}
    settings = load_settings(discord_token="t", suno_api_key="k", **overrides)
    assert (Path(workdir) / settings.database_path).resolve() == Path("/data/backline.db")


def test_the_image_installs_the_bot_without_the_playground() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = " ".join(project["dependencies"])
    for name in ("simcord", "numpy", "playwright"):
        assert name not in main
    assert {"simcord==3.2.1", "numpy==2.4.6"} <= set(project["optional-dependencies"]["playground"])
    installs = re.findall(r"pip install ([^&\n]*)", DOCKERFILE)
    assert installs and all("[" not in each for each in installs)
    assert "COPY playground" not in DOCKERFILE and "COPY simulator" not in DOCKERFILE
