"""Run the music-API simulator until Ctrl-C: ``python -m simulator --fast``.

Result tracks are the sandbox engine's accompaniment of each uploaded WAV (see
:mod:`simulator.sandbox`); ``--no-sandbox`` serves the test tone instead, as tests do.

The API key may also come from the ``SIM_API_KEY`` environment variable, which keeps it
out of the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os

from simulator.config import SimulatorConfig
from simulator.faults import Shapes
from simulator.profiles import FIXED, PROFILES
from simulator.server import Simulator

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Local stand-in for the hosted music API."
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=8765)
    add("--fast", action="store_true", help="stages at 5 s / 15 s / 25 s instead of minutes")
    add("--text-delay", type=float, help=f"seconds to TEXT_SUCCESS ({defaults.text_delay})")
    add("--first-delay", type=float, help=f"seconds to FIRST_SUCCESS ({defaults.first_delay})")
    add("--complete-delay", type=float, help=f"seconds to SUCCESS ({defaults.complete_delay})")
    add(
        "--timing-profile",
        choices=(FIXED, *sorted(PROFILES)),
        default=FIXED,
        help="each task draws its stage times from this shape (seeded by --seed); "
        "fixed: the three delays",
    )
    add("--api-key", default=os.environ.get("SIM_API_KEY"), help="required bearer key")
    add("--credits", type=float, default=defaults.credits)
    add("--task-cost", type=float, default=defaults.task_cost)
    add("--track-count", type=int, choices=(1, 2), default=defaults.track_count)
    add("--rate-limit", type=int, default=defaults.rate_limit)
    add("--rate-period", type=float, default=defaults.rate_period)
    add("--failure-rate", type=float, default=defaults.failure_rate)
    add("--failure-status", default=defaults.failure_status)
    add("--callback-casing", choices=("documented", "drifted"), default="documented")
    add("--record-info-casing", choices=("documented", "drifted"), default="documented")
    add("--callback-repeats", type=int, default=defaults.callback_repeats)
    add("--no-callbacks", action="store_true", help="never POST to callBackUrl")
    add("--no-upload-check", action="store_true", help="do not fetch uploadUrl")
    add(
        "--no-sandbox",
        action="store_true",
        help="serve a test tone instead of an accompaniment of the uploaded recording",
    )
    add("--audio-seconds", type=float, default=defaults.audio_seconds)
    add("--audio-pad-bytes", type=int)
    add("--max-upload-bytes", type=int, default=defaults.max_upload_bytes)
    add("--public-base-url", help="base of file URLs (default: where it listens)")
    add("--seed", type=int)
    add(
        "--shapes",
        type=shapes_arg,
        default=Shapes(),
        help="odds of answer shapes no documentation promises, e.g. "
        '"gateway=0.1,forwarded=1,hollow=0.3,late=0.05,late_seconds=40" '
        "(fields of simulator.faults.Shapes; all 0 by default)",
    )
    add("--log-level", default="INFO")
    return parser.parse_args(argv)


def shapes_arg(text: str) -> Shapes:
    """``name=value,...`` over the numeric fields of :class:`Shapes`."""
    numbers = {f.name: f.type for f in dataclasses.fields(Shapes) if f.type in ("float", "int")}
    values: dict[str, float | int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in numbers:
            raise argparse.ArgumentTypeError(
                f"unknown shape {name!r}; known: {', '.join(sorted(numbers))}"
            )
        try:
            values[name] = int(value) if numbers[name] == "int" else float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} needs a number, not {value!r}") from None
    return Shapes(**values)  # type: ignore[arg-type]


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    config = SimulatorConfig(
        api_key=args.api_key or None,
        credits=args.credits,
        task_cost=args.task_cost,
        track_count=args.track_count,
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        failure_rate=args.failure_rate,
        failure_status=args.failure_status,
        callback_casing=args.callback_casing,
        record_info_casing=args.record_info_casing,
        callback_repeats=args.callback_repeats,
        send_callbacks=not args.no_callbacks,
        check_upload=not args.no_upload_check,
        sandbox=not args.no_sandbox,
        audio_seconds=args.audio_seconds,
        audio_pad_bytes=args.audio_pad_bytes,
        max_upload_bytes=args.max_upload_bytes,
        public_base_url=args.public_base_url,
        seed=args.seed,
        timing_profile=args.timing_profile,
        shapes=args.shapes,
    )
    if args.fast:
        config.use_fast_timings()
    for name in ("text_delay", "first_delay", "complete_delay"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    return config


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    sim = Simulator(config)
    await sim.start(host, port)
    try:
        timing = f"timing profile {config.timing_profile}"
        if config.timing_profile == FIXED:
            timing = (
                f"stages at {config.text_delay:.0f} s / {config.first_delay:.0f} s / "
                f"{config.complete_delay:.0f} s"
            )
        auth = "required" if config.api_key else "not required"
        log.info("%s; auth %s; Ctrl-C to stop", timing, auth)
        await asyncio.Event().wait()
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(build_config(args), args.host, args.port))


if __name__ == "__main__":
    main()
