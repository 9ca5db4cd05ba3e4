"""The `RunwayCredentials` block: API key, endpoint and dialect, and the clients built from them.

Example:
    ```python
    import os
    from prefect_runway import RunwayCredentials

    RunwayCredentials(api_key=os.environ["RUNWAYML_API_SECRET"]).save("runway", overwrite=True)
    creds = RunwayCredentials.load("runway")   # in a flow
    with creds.get_client() as client:
        print(client.organization().credit_balance)
    ```
"""

from __future__ import annotations

import hashlib
import os
from typing import Annotated, Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, SecretStr, WithJsonSchema

from prefect_runway.api.client import (
    DEFAULT_API_VERSION,
    DEFAULT_NOT_FOUND_GRACE,
    MIN_POLL_INTERVAL,
    AsyncRunwayClient,
    RunwayClient,
)
from prefect_runway.api.dialects import Dialect
from prefect_runway.errors import RunwayAuthenticationError
from prefect_runway.ledger.keys import normalize_base_url

LOGO_URL = (
    "https://raw.githubusercontent.com/prefect-runway/prefect-runway/main/prefect_runway/logo.png"
)


class RunwayCredentials(CredentialsBlock):
    """Credentials and endpoint for Runway's API (official, or a ``/runwayml`` proxy).

    Unset fields fall back to the environment like the official SDK: ``RUNWAYML_API_SECRET``
    for the key and ``RUNWAYML_BASE_URL`` for the endpoint.

    Attributes:
        api_key: The API secret (stored encrypted by Prefect, never logged).
        base_url: API root; the dialect's public URL when unset.
        dialect: ``runway`` (official) or ``proxy``: given as the string, read as the
            `Dialect` it names.

    Example:
        Load stored credentials and submit:
        ```python
        from prefect_runway import RunwayCredentials

        creds = RunwayCredentials.load("runway")  # a block saved earlier
        client = creds.get_client()
        ```
    """

    _block_type_name = "Runway Credentials"
    _logo_url = LOGO_URL  # type: ignore[assignment]
    _documentation_url = "https://docs.dev.runwayml.com/api/"  # type: ignore[assignment]

    api_key: SecretStr | None = Field(
        default=None,
        title="API Key",
        description="Runway API secret. Falls back to the RUNWAYML_API_SECRET variable.",
    )
    base_url: str | None = Field(
        default=None,
        title="Base URL",
        description=(
            "API root, e.g. https://api.dev.runwayml.com or https://host/runwayml. Falls back "
            "to RUNWAYML_BASE_URL, then to the dialect's public URL."
        ),
    )
    # The block's schema stays the string enum it always was (saved blocks, the UI's form).
    dialect: Annotated[Dialect, WithJsonSchema({"enum": list(Dialect), "type": "string"})] = Field(
        default=Dialect.RUNWAY,
        title="Dialect",
        description="Wire dialect: 'runway' for the official API, 'proxy' for /runwayml resellers.",
    )
    api_version: str = Field(
        default=DEFAULT_API_VERSION,
        description="Value of the X-Runway-Version header.",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds allowed for each request.")
    max_retries: int = Field(
        default=5,
        ge=0,
        description=(
            "Transient retries per call: 429, connect errors, 502/503/504 (on reads such "
            "as polls every 5xx)."
        ),
    )
    poll_interval: float = Field(
        default=MIN_POLL_INTERVAL,
        gt=0,
        description="Seconds between polls of one task; at least 5 against runwayml.com.",
    )
    not_found_grace: float = Field(
        default=DEFAULT_NOT_FOUND_GRACE,
        ge=0,
        description=(
            "Seconds a waited-for task may answer 404 without a break before it is lost "
            "(a proxy may not know a fresh task for a while; one 404 is no verdict)."
        ),
    )
    account_label: str | None = Field(
        default=None,
        description=(
            "A stable, non-secret name of the Runway account (e.g. 'acme-prod'). Submission "
            "records are keyed by it instead of a hash of the key, so rotating the key does "
            "not make every image look new (and paid again). Set it before the first run."
        ),
    )
    retry_lost_responses: bool = Field(
        default=True,
        description=(
            "Retry a submission whose answer was lost (reported as a possible duplicate) "
            "instead of failing it."
        ),
    )

    def _key(self) -> str:
        key = self.api_key.get_secret_value() if self.api_key else None
        key = key or os.environ.get("RUNWAYML_API_SECRET")
        if not key:
            raise RunwayAuthenticationError(
                "No Runway API key: set api_key on the RunwayCredentials block or the "
                "RUNWAYML_API_SECRET environment variable."
            )
        return key

    @property
    def resolved_base_url(self) -> str:
        """The API root in use: the field, else RUNWAYML_BASE_URL, else the dialect's default."""
        url = self.base_url or os.environ.get("RUNWAYML_BASE_URL")
        return (url or self.dialect.default_base_url).rstrip("/")

    @property
    def account_fingerprint(self) -> str:
        """A non-secret identity of the account for cache keys: a hash, never the key.

        Made of the base URL (scheme and host case, default port and trailing slash
        normalized), the dialect, and `account_label` when set, else the key. With a label,
        a rotated key keeps its fingerprint; without one, two keys never share one.
        """
        who = f"label:{self.account_label}" if self.account_label else self._key()
        text = f"{normalize_base_url(self.resolved_base_url)}\n{self.dialect}\n{who}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _client_kwargs(self, overrides: dict[str, Any]) -> dict[str, Any]:
        return {
            "base_url": self.resolved_base_url,
            "dialect": self.dialect,
            "api_version": self.api_version,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "poll_interval": self.poll_interval,
            "not_found_grace": self.not_found_grace,
            "retry_lost_responses": self.retry_lost_responses,
            **overrides,
        }

    def get_client(self, **overrides: Any) -> RunwayClient:
        """A synchronous `RunwayClient`; keyword arguments override the block's settings."""
        return RunwayClient(self._key(), **self._client_kwargs(overrides))

    def get_async_client(self, **overrides: Any) -> AsyncRunwayClient:
        """An `AsyncRunwayClient`; keyword arguments override the block's settings."""
        return AsyncRunwayClient(self._key(), **self._client_kwargs(overrides))


async def load_credentials(
    block: RunwayCredentials | str | None = None,
) -> RunwayCredentials:
    """Credentials from a block, a block's name, or the environment (None).

    Flows take either: a `RunwayCredentials` block picked in Prefect's UI (or passed in
    Python), or a saved block's name (a name is not a secret, so a deployment's parameters may
    hold it).

    Example:
        ```python
        creds = await load_credentials("runway")   # a saved block, by name
        creds = await load_credentials()           # RUNWAYML_API_SECRET / RUNWAYML_BASE_URL
        ```
    """
    if isinstance(block, RunwayCredentials):
        return block
    if block:
        loaded = await RunwayCredentials.aload(block)
        if not isinstance(loaded, RunwayCredentials):
            raise TypeError(f"block {block!r} is a {type(loaded).__name__}, not RunwayCredentials")
        return loaded
    return RunwayCredentials()
