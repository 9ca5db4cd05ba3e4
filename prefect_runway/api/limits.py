"""Runway's published input limits, as plain data: one place for every number and list.

The client's checks (`prefect_runway.api.models`, `prefect_runway.images`,
`prefect_runway.delivery`) and the emulator's own validation
(`prefect_runway.testing.emulator`) read these values; neither copies them. Per-model facts
(ratios, durations, prompt lengths, positions) live in the generated `prefect_runway.api.rules`
table instead. This module holds data only: no functions, no imports of the package, so the
emulator may read it without reading the client's code.

Sources: Runway's developer docs ("API Input Parameters", "Inputs", common error reasons)
and the docstrings of the official ``runwayml`` SDK 5.24.0 (``image_to_video_create_params``).
A value that is this package's own choice, not Runway's, says so.

Example:
    ```python
    from prefect_runway.api import limits

    limits.MAX_DATA_URI_CHARS        # 5242880: the whole data URI, in characters
    limits.IMAGE_CONTENT_TYPES       # ('image/jpeg', 'image/png', 'image/webp')
    ```
"""

from __future__ import annotations

MB = 1024 * 1024
"""Runway's "MB" in its size limits (16 MB by URL is 16,777,216 bytes)."""

# -- image references ------------------------------------------------------------------------

IMAGE_CONTENT_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")
"""The image types Runway accepts, judged by content type (never by file name). GIF,
``image/x-png``, ``binary/octet-stream`` and ``application/octet-stream`` are refused."""

URL_SCHEMES: tuple[str, ...] = ("https",)
"""Schemes of image URLs Runway fetches (plain http is refused)."""

MAX_URL_LENGTH = 2048
"""An image URL may be at most this many characters."""

URL_HOST_RULE = "a domain name (with a dot), not an IP address"
"""What an image URL's host must be, in words: Runway refuses IP literals and hosts that are
no domain name (``https://intranet/cat.png``)."""

MAX_URL_IMAGE_BYTES = 16 * MB
"""The largest image Runway fetches by URL (its ``Content-Length``, HEAD-checked)."""

DATA_URI_ENCODING = "base64"
"""The only data URI encoding Runway reads, written in lower case as the last parameter
(``data:image/png;base64,...``)."""

MAX_DATA_URI_CHARS = 5 * MB
"""A data URI may be at most 5,242,880 characters, the whole URI (about 3.9 MB of image)."""

UPLOAD_URI_SCHEME = "runway"
"""The scheme of ephemeral upload URIs (``runway://...``)."""

MAX_RUNWAY_URI_CHARS = 5000
"""A ``runway://`` upload URI may be at most this many characters."""

MAX_UPLOAD_BYTES = 200 * MB
"""The largest file an ephemeral upload takes (image, video or audio)."""

UPLOAD_LIFETIME_HOURS = 24
"""How long a ``runway://`` upload URI can be used."""

MAX_KEYFRAME_IMAGES = 2
"""A ``promptImage`` list of keyframes holds at most a ``first`` and a ``last`` image."""

MAX_PROMPT_IMAGES = 16
"""The most images one ``promptImage`` list may hold for models that take reference images
(no position). This package's ceiling, not a documented one: the SDK documents per-model
counts (up to 7 or 10) only in prose."""

# -- image dimensions ------------------------------------------------------------------------

MAX_IMAGE_SIDE = 8000
"""Each side of an image must be *under* this many pixels (Runway's common error reasons)."""

ASPECT_RATIO_RANGE: tuple[float, float] = (0.4, 2.5)
"""Width / height bounds documented for the grok_imagine_1_5 models (warned for others)."""

MODEL_ASPECT_RATIO: dict[str, tuple[float, float]] = {
    "grok_imagine_1_5": ASPECT_RATIO_RANGE,
    "grok_imagine_1_5_lite": ASPECT_RATIO_RANGE,
}
"""Models whose documented width / height bounds are enforced."""

MODEL_MIN_IMAGE_SIDE: dict[str, int] = {"h3_max": 256}
"""Models documenting a smallest side, in pixels."""

# -- other fields ----------------------------------------------------------------------------

MIN_SEED = 0
MAX_SEED = 4_294_967_295
"""``seed`` is an integer from `MIN_SEED` to `MAX_SEED` (2**32 - 1); random when absent."""

MAX_PROMPT_UTF16_UNITS = 1000
"""``promptText`` of the gen4 family: at most 1000 UTF-16 code units (other models: the rules
table's ``max_length``)."""

# -- video and audio references (other endpoints; for completeness) ---------------------------

MAX_URL_VIDEO_BYTES = 32 * MB
"""The largest video Runway fetches by URL."""
MAX_URL_AUDIO_BYTES = 32 * MB
"""The largest audio file Runway fetches by URL."""
MAX_VIDEO_DATA_URI_CHARS = 16 * MB
"""A video data URI's limit ("16 MB as a data URI"; counted like the image one)."""
MAX_AUDIO_DATA_URI_CHARS = 16 * MB
"""An audio data URI's limit ("16 MB as a data URI"; counted like the image one)."""

MEDIA_KINDS: tuple[str, ...] = ("image", "video", "audio")
"""The media kinds a task input may be."""

MEDIA_LIMITS: dict[str, dict[str, int]] = {
    "image": {"url": MAX_URL_IMAGE_BYTES, "data_uri": MAX_DATA_URI_CHARS,
              "upload": MAX_UPLOAD_BYTES},
    "video": {"url": MAX_URL_VIDEO_BYTES, "data_uri": MAX_VIDEO_DATA_URI_CHARS,
              "upload": MAX_UPLOAD_BYTES},
    "audio": {"url": MAX_URL_AUDIO_BYTES, "data_uri": MAX_AUDIO_DATA_URI_CHARS,
              "upload": MAX_UPLOAD_BYTES},
}  # fmt: skip
"""Kind -> transport -> limit ("API Input Parameters"): bytes of the file by ``url`` and
``upload``; characters of the whole URI by ``data_uri``. Read by `prefect_runway.media`."""

# -- organization usage ----------------------------------------------------------------------

MAX_USAGE_DAYS = 90
"""``POST /v1/organization/usage`` covers at most this many UTC days (``beforeDate`` at most
90 days after ``startDate``; SDK ``organization_retrieve_usage_params``)."""

DEFAULT_USAGE_DAYS = 30
"""Its defaults: ``startDate`` 30 days before today, ``beforeDate`` 30 days after it."""

# -- local runs only -------------------------------------------------------------------------

ALLOW_LOOPBACK_ENV = "PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS"
"""Set to 1/true/yes to let the client send loopback image URLs (the emulator and moto on
this machine); the emulator's ``allow_http_loopback`` is its counterpart. Runway itself
never fetches them."""

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Hosts that the loopback allowance admits (``::1`` written ``[::1]`` in a URL)."""

LOOPBACK_SCHEMES: tuple[str, ...] = ("http", "https")
"""Schemes that the loopback allowance admits on `LOOPBACK_HOSTS`."""
