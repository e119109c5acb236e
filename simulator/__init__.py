"""A local stand-in for the hosted music API, for tests, benchmarks and manual runs.

Usage::

    async with Simulator(SimulatorConfig(text_delay=0.1, first_delay=0.2,
                                         complete_delay=0.3)) as sim:
        ...  # point the client at sim.base_url

or ``python -m simulator --fast``. Result tracks are a test tone, or with
``SimulatorConfig(sandbox=True)`` (the default of ``python -m simulator``) an
accompaniment of the uploaded recording (:mod:`simulator.sandbox`).

It is a test double and a local sandbox, not part of the bot: it imports no Discord code
and no bot module except :mod:`bot.audio` (to sniff uploads), and the bot never imports
it.
"""

from simulator.config import FAST_DELAYS, SimulatorConfig
from simulator.server import Simulator
from simulator.tasks import SimTask, SimTrack

__all__ = ["FAST_DELAYS", "SimTask", "SimTrack", "Simulator", "SimulatorConfig"]
