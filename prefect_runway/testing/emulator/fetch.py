"""The HEAD check Runway makes on image URLs before accepting a task."""

from __future__ import annotations

import httpx

from prefect_runway.api import limits as LIMITS  # data only: the published input limits

from .validation import safe_url

MAX_URL_IMAGE_BYTES = LIMITS.MAX_URL_IMAGE_BYTES
IMAGE_CONTENT_TYPES = frozenset(LIMITS.IMAGE_CONTENT_TYPES)
HEAD_TIMEOUT_SECONDS = 5.0


def check_image_url(client: httpx.Client, url: str) -> str | None:
    """HEAD an image URL the way Runway does and judge the answer.

    Redirects are not followed (a 3xx is a failure). The answer must be 2xx with an image
    ``Content-Type`` (JPEG, PNG or WebP) and a ``Content-Length`` of at most 16 MB
    (``limits.MAX_URL_IMAGE_BYTES``).

    Args:
        client: The HTTP client to send the HEAD with.
        url: The image URL; it never appears in messages with its query string.

    Returns:
        None when the image is acceptable, else the error message for a 400 answer.
    """
    shown = safe_url(url)
    try:
        response = client.head(url, timeout=HEAD_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"Failed to fetch image: HEAD {shown} failed ({type(exc).__name__})."
    if not 200 <= response.status_code < 300:
        return f"Failed to fetch image: HEAD {shown} returned {response.status_code}."
    raw_type = response.headers.get("content-type")
    if not raw_type:
        return f"Failed to fetch image: HEAD {shown} returned no Content-Type."
    media_type = raw_type.split(";", 1)[0].strip().lower()
    if media_type not in IMAGE_CONTENT_TYPES:
        return (
            f"Failed to fetch image: HEAD {shown} returned Content-Type '{media_type[:100]}'; "
            "expected image/jpeg, image/png or image/webp."
        )
    raw_length = response.headers.get("content-length")
    if raw_length is None:
        return f"Failed to fetch image: HEAD {shown} returned no Content-Length."
    try:
        length = int(raw_length)
    except ValueError:
        return f"Failed to fetch image: HEAD {shown} returned an invalid Content-Length."
    if length > MAX_URL_IMAGE_BYTES:
        return (
            f"Image at {shown} is {length} bytes; the limit for image URLs is "
            f"{MAX_URL_IMAGE_BYTES} bytes ({MAX_URL_IMAGE_BYTES // LIMITS.MB} MB)."
        )
    return None
