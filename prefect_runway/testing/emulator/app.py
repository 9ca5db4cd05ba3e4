"""The :class:`Emulator`: configuration, lifecycle and test helpers around the HTTP server."""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Any

from .faults import Faults
from .server import PROXY_PREFIX, EmulatorHTTPServer, ServerConfig
from .state import EmulatorState
from .validation import validate_task

DIALECTS = ("runway", "proxy")
PROXY_SUBMIT_SHAPES = ("wrapped", "state", "plain")

# The (host, port) pairs emulators of this process were given for `port=0`. A client keys its
# ledger and Prefect's cache on the account, whose fingerprint includes the base URL: a new
# emulator (fresh state) on a port an earlier one had looks like the earlier account, so a
# rerun of the same images is answered from the ledger with task IDs the new emulator never
# created (they answer 404). A test suite that starts an emulator per test meets this whenever
# the OS hands a port out twice, so a fresh emulator never gets an earlier one's port.
_PORTS_GIVEN: set[tuple[str, int]] = set()
_PORTS_LOCK = threading.Lock()
_PORT_TRIES = 200


class Emulator:
    """A local Runway image-to-video API served over real HTTP on loopback.

    Args:
        api_key: The accepted bearer key. None reads ``RUNWAYML_API_SECRET``; when that is
            unset too, any non-empty key is accepted.
        dialect: ``"runway"`` (official API) or ``"proxy"`` (``/runwayml`` prefix).
        host: Interface to bind.
        port: Port to bind; 0 picks a free one that no earlier emulator of this process had
            (so a fresh emulator never looks like an earlier one's account to a ledger).
        concurrency: Maximum RUNNING tasks at once; the rest wait THROTTLED, FIFO.
        generation_seconds: How long a task stays RUNNING.
        pending_seconds: How long a task stays PENDING before it may take a slot.
        proxy_submit_shape: Proxy submit answer: ``"wrapped"``, ``"state"`` or ``"plain"``.
        proxy_not_found_seconds: Proxy only: a new task answers 404 for this long.
        fetch_urls: HEAD-check image URLs like Runway does.
        allow_http_loopback: Accept (and HEAD-check) http and https image URLs on
            ``127.0.0.1``, ``localhost`` and ``[::1]`` (``limits.LOOPBACK_HOSTS``), for local
            runs with moto or a test server.
        credit_balance: Starting credit balance.
        faults: Fault injection settings.
        output_url_ttl: Seconds until an output URL's ``exp`` passes (then 403).
        daily_limit: Maximum creates per model in any rolling 24 hours (then 429, as Runway
            answers over ``maxDailyGenerations``); None: no limit. Default 10,000.
        concurrency_per_model: Count `concurrency` per model, as Runway's
            ``maxConcurrentGenerations`` is (default False: one limit over every model).

    Example:
        >>> with Emulator(api_key="key_test", generation_seconds=0.3) as emu:  # doctest: +SKIP
        ...     httpx.get(f"{emu.base_url}/v1/organization", headers=...)
    """

    def __init__(
        self,
        api_key: str | None = "key_test",
        dialect: str = "runway",
        host: str = "127.0.0.1",
        port: int = 0,
        concurrency: int = 2,
        generation_seconds: float = 1.0,
        pending_seconds: float = 0.0,
        proxy_submit_shape: str = "wrapped",
        proxy_not_found_seconds: float = 0.0,
        fetch_urls: bool = True,
        allow_http_loopback: bool = False,
        credit_balance: int = 100000,
        faults: Faults | None = None,
        output_url_ttl: float = 3600.0,
        daily_limit: int | None = 10000,
        concurrency_per_model: bool = False,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
        if proxy_submit_shape not in PROXY_SUBMIT_SHAPES:
            raise ValueError(
                f"proxy_submit_shape must be one of {PROXY_SUBMIT_SHAPES}, "
                f"got {proxy_submit_shape!r}"
            )
        if api_key is None:
            api_key = os.environ.get("RUNWAYML_API_SECRET") or None
        self.dialect = dialect
        self.host = host
        self.port = port
        self._config = ServerConfig(
            dialect=dialect,
            api_key=api_key,
            proxy_submit_shape=proxy_submit_shape,
            proxy_not_found_seconds=float(proxy_not_found_seconds),
            fetch_urls=fetch_urls,
            allow_http_loopback=allow_http_loopback,
            output_url_ttl=float(output_url_ttl),
        )
        self._state = EmulatorState(
            concurrency=concurrency,
            generation_seconds=generation_seconds,
            pending_seconds=pending_seconds,
            credit_balance=credit_balance,
            faults=faults or Faults(),
            daily_limit=daily_limit,
            concurrency_per_model=concurrency_per_model,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the socket and serve in a background daemon thread.

        Returns:
            The emulator itself.
        """
        if self._server is not None:
            return self
        server = self._bind()
        bound_host, bound_port = server.server_address[:2]
        self.port = int(bound_port)
        shown = str(bound_host)
        if ":" in shown:
            shown = f"[{shown}]"
        self._config.root_url = f"http://{shown}:{self.port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"runway-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _bind(self) -> EmulatorHTTPServer:
        """A server bound to `port`, or for 0 to a free port no earlier emulator had."""
        if self.port:
            return EmulatorHTTPServer((self.host, self.port), self._config, self._state)
        held: list[EmulatorHTTPServer] = []  # kept bound while trying, so the OS offers others
        try:
            for _ in range(_PORT_TRIES):
                server = EmulatorHTTPServer((self.host, 0), self._config, self._state)
                given = (self.host, int(server.server_address[1]))
                with _PORTS_LOCK:
                    if given not in _PORTS_GIVEN:
                        _PORTS_GIVEN.add(given)
                        return server
                held.append(server)
        finally:
            for other in held:
                other.server_close()
        raise OSError(
            f"No free port on {self.host} that no earlier emulator of this process had, "
            f"after {_PORT_TRIES} tries: pass port= explicitly."
        )

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection."""
        server, thread = self._server, self._thread
        self._server = None
        self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if not self._config.root_url:
            raise RuntimeError("the emulator is not started")
        return self._config.root_url

    @property
    def base_url(self) -> str:
        """The API base URL: ``root_url`` (runway dialect) or ``root_url + "/runwayml"``."""
        return self.root_url + (PROXY_PREFIX if self.dialect == "proxy" else "")

    # -- test helpers -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return the counters served at ``GET /_emulator/stats``."""
        return self._state.stats()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings (and reseed the fault generator)."""
        self._state.set_faults(faults)

    @property
    def faults(self) -> Faults:
        """The current fault settings."""
        return self._state.faults

    def hold_submits(self) -> None:
        """Hold every submit POST, before it is counted or creates anything, until
        `release_submits`: a fixed point at which a test lines up a second client."""
        self._state.submit_gate.clear()

    def release_submits(self) -> None:
        """Let held submits (and later ones) through."""
        self._state.submit_gate.set()

    @property
    def held_submits(self) -> int:
        """Submit POSTs waiting at the gate of `hold_submits` right now."""
        with self._state.lock:
            return self._state.held_submits

    def reset(self) -> None:
        """Clear tasks, uploads, stats and daily usage, and restore the credit balance (the
        clock keeps its offset)."""
        self._state.reset()

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward (``POST /_emulator/clock``).

        Task progress, output URL expiry and the daily window all follow the clock, so a test
        reaches "tomorrow" at once.

        Args:
            seconds: How far to move it, e.g. ``86400`` for a day.

        Returns:
            The clock's total offset from real time, in seconds.

        Example:
            >>> with Emulator(daily_limit=1) as emu:  # doctest: +SKIP
            ...     emu.advance_clock(86400)  # yesterday's generations leave the window
        """
        return self._state.advance_clock(seconds)

    @property
    def daily_limit(self) -> int | None:
        """Maximum creates per model in any rolling 24 hours (None: no limit)."""
        return self._state.daily_limit

    def add_task(self, path: str, body: dict[str, Any], task_id: str | None = None) -> str:
        """Create a task as ``POST <path>`` would, without HTTP, under `task_id` if given:
        for tests that poll or cancel an ID they name (the SDK's generated tests do).

        Args:
            path: A task endpoint other than image-to-video, e.g. ``/v1/text_to_video``.
            body: Its body (validated as the endpoint validates it).
            task_id: The ID to use (replacing a task of that ID); None: a new UUID.

        Returns:
            The task's ID.

        Raises:
            ValueError: the body is invalid or the credit balance is too low.
        """
        result = validate_task(path, body, self._state.upload_ready)
        if isinstance(result, list):
            raise ValueError("; ".join(issue.message for issue in result))
        task = self._state.create_task(body, result, task_id=task_id)
        if task is None:
            raise ValueError("not enough credits")
        return task.id

    def tasks(self) -> list[dict[str, Any]]:
        """Return snapshots of all tasks: ``id``, ``status``, ``body``, ``created_at``, ..."""
        return self._state.snapshots()
