"""A local emulator of Runway's task API, over real HTTP on loopback.

Image-to-video and every other task endpoint of ``prefect_runway/api/endpoints.py``
(text-to-video, text-to-image, the audio endpoints, the Model Router, recipes, avatar videos,
...) share one task machine, credit balance, daily limit and fault injection; their outputs are
small valid MP4, PNG or WAV files by the endpoint's kind.

It is hand-written because no maintained fake of the Runway API exists. It implements the wire
contract (official dialect under ``/v1``, proxy dialect under ``/runwayml/v1``) independently of
this package's client, so the client can be tested against behaviour rather than against
itself: validation, task lifecycle with concurrency slots (PENDING, THROTTLED, RUNNING,
SUCCEEDED/FAILED, CANCELLED), ephemeral uploads, output videos with expiring URLs, and
injected faults, per request or at a rate, before a task exists (429, 5xx, dropped connections,
malformed bodies) and after (gateway 5xx, lost or truncated answers, late answers, proxy
variants).

Example:
    >>> from prefect_runway.testing.emulator import Emulator, Faults
    >>> with Emulator(api_key="key_test", generation_seconds=0.3) as emu:  # doctest: +SKIP
    ...     print(emu.base_url)

Control endpoints (no auth): ``GET /_emulator/health``, ``GET /_emulator/stats``,
``POST /_emulator/reset``, ``POST /_emulator/faults``, ``GET``/``POST /_emulator/clock``
(``{"advance_seconds": 86400}`` moves the clock a day forward). In ``stats``, ``rejected``
counts rejected submits only, so ``posts == tasks_created + sum(rejected.values())``
(``rejected["daily_limit"]`` counts creates refused by the daily limit), ``uploads`` counts
``POST /v1/uploads`` calls, ``downloads`` counts output videos served (GET, not HEAD) and
``download_errors`` the video GETs failed by ``rate_download_error``. ``tasks_created`` counts
every task created, whether or not its answer reached the client; ``after_create`` counts, by
kind, the created tasks whose answer was then failed on purpose (``Faults.script`` entries
``created:<kind>``, or ``rate_after_create``: gateway 5xx and 520-527, dropped or truncated
answers, late answers, wrapped errors, 200s without an ID, and 200s in a proxy's variants).

Daily limit: with ``daily_limit=N`` (``--daily-limit N``) each model accepts at most N creates
in any rolling 24 hours of the emulator's clock; past it, create answers 429 with an error
naming the daily limit, as Runway does. ``GET /v1/organization`` reports the limit as
``maxDailyGenerations`` and the window's count as ``usage.models.<model>.dailyGenerations``.
"""

from __future__ import annotations

from .app import Emulator
from .cli import main
from .faults import Faults

__all__ = ["Emulator", "Faults", "main"]
