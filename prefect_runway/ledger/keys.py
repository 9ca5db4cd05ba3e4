"""What makes two submissions the same paid generation, and the lock that keeps it paid once.

The cache key of a submission is a hash of:

- the account fingerprint (normalized base URL + dialect + the block's account label, by
  default a hash of the key; never the key itself),
- the image's *stable identity*: given by the caller (the S3 flow passes
  ``s3://bucket/key#etag``), else derived: a content hash for data URIs, the URL without its
  signature for an HTTPS URL signed by a known scheme (AWS SigV2/SigV4, Google Cloud
  Storage, Azure SAS, CloudFront: a signature changes on every signing and never enters the
  key), the URI itself for ``runway://``; a single image given as ``[{uri, position:
  "first"}]`` is the same image as the plain string,
- every request field that changes the generation, normalized: the model's default duration
  filled in and fields equal to the API's defaults left out, so ``duration=None`` and
  ``duration=10`` share an entry for gen4_turbo.

Example:
    ```python
    from prefect_runway.ledger.keys import submission_key

    key = submission_key(creds.account_fingerprint, request, "s3://bucket/cat.png#9b2cf5")
    ```
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from prefect_runway.api.models import (
    GenerationSettings,
    ImageToVideoRequest,
    PromptImage,
    parse_data_uri,
)
from prefect_runway.api.requests import IMAGE_TO_VIDEO, GenerationRequest

KEY_PREFIX = "runway-i2v-"
# Signing schemes, each recognised by the parameters it always carries, and the parameters it
# adds (compared in lower case). Only a URL carrying a whole scheme loses that scheme's
# parameters: a lone ``token`` or ``sig`` on an arbitrary host is part of the image's address.
_SIGNING_SCHEMES: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (  # AWS SigV4 (S3 presigned URLs)
        frozenset({"x-amz-algorithm", "x-amz-credential", "x-amz-signature"}),
        frozenset({"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
                   "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token"}),
    ),
    (  # AWS SigV2
        frozenset({"awsaccesskeyid", "signature", "expires"}),
        frozenset({"awsaccesskeyid", "signature", "expires", "x-amz-security-token"}),
    ),
    (  # Google Cloud Storage V4
        frozenset({"x-goog-algorithm", "x-goog-credential", "x-goog-signature"}),
        frozenset({"x-goog-algorithm", "x-goog-credential", "x-goog-date", "x-goog-expires",
                   "x-goog-signedheaders", "x-goog-signature"}),
    ),
    (  # Google Cloud Storage V2
        frozenset({"googleaccessid", "signature", "expires"}),
        frozenset({"googleaccessid", "signature", "expires"}),
    ),
    (  # Azure shared access signature
        frozenset({"sig", "se", "sv"}),
        frozenset({"sig", "se", "sv", "st", "sp", "sr", "ss", "srt", "spr", "si", "sdd",
                   "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid"}),
    ),
    (  # CloudFront signed URL (canned or custom policy)
        frozenset({"signature", "key-pair-id"}),
        frozenset({"signature", "key-pair-id", "expires", "policy"}),
    ),
)  # fmt: skip


def signing_params(names: list[str]) -> set[str]:
    """The lower-cased names among `names` that belong to a signing scheme the URL carries whole.

    Example:
        ```python
        signing_params(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "v"])
        # {'x-amz-algorithm', 'x-amz-credential', 'x-amz-signature'}
        signing_params(["token"])  # set(): a lone token is part of the address
        ```
    """
    present = {name.lower() for name in names}
    dropped: set[str] = set()
    for required, added in _SIGNING_SCHEMES:
        if required <= present:
            dropped |= added & present
    return dropped


def url_identity(url: str) -> str:
    """The URL without the parameters of a signing scheme, with the host in lower case.

    Example:
        ```python
        url_identity("https://b.s3.amazonaws.com/cat.png?X-Amz-Algorithm=A&"
                     "X-Amz-Credential=C&X-Amz-Signature=S&v=2")
        # 'https://b.s3.amazonaws.com/cat.png?v=2'
        url_identity("https://cdn.example.com/cat.png?token=abc")  # kept: not a signature
        ```
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    dropped = signing_params([name for name, _ in query])
    kept = urlencode(sorted((k, v) for k, v in query if k.lower() not in dropped))
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return urlunsplit((parts.scheme.lower(), host, parts.path, kept, ""))


def normalize_base_url(url: str) -> str:
    """Scheme and host in lower case, default port and trailing slash dropped.

    Example:
        ```python
        normalize_base_url("HTTPS://API.dev.runwayml.com:443/")  # 'https://api.dev.runwayml.com'
        ```
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in (("https", 443), ("http", 80))
        else (f"{host}:{port}")
    )
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def content_identity(data: bytes) -> str:
    """``sha256:<hex>`` of an image's bytes: the identity of bytes and data URIs."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_identity(prompt_image: str | list[PromptImage]) -> str:
    """Derive an image's stable identity from what the request carries.

    Pass an explicit identity instead for ``runway://`` uploads of the same source, which get
    a new URI on every upload.
    """
    if isinstance(prompt_image, list):
        if len(prompt_image) == 1 and prompt_image[0].position == "first":
            return image_identity(prompt_image[0].uri)  # the same image as the plain string
        return "|".join(f"{img.position}={image_identity(img.uri)}" for img in prompt_image)
    if prompt_image.startswith("data:"):
        parsed = parse_data_uri(prompt_image)  # the request checks' own reading of the URI
        payload = parsed.payload if parsed is not None else prompt_image.split(",", 1)[1]
        return content_identity(base64.b64decode(payload))
    if prompt_image.startswith("runway://"):
        return prompt_image
    return url_identity(prompt_image)


def submission_key(
    account_fingerprint: str,
    request: GenerationSettings,
    identity: str | None = None,
) -> str:
    """The cache key of one paid generation (see the module docs for what goes in).

    Args:
        account_fingerprint: `RunwayCredentials.account_fingerprint`.
        request: An `ImageToVideoRequest`, or `GenerationSettings` with an `identity`.
        identity: The image's stable identity; derived from the request's image if omitted.
    """
    if identity is None:
        if not isinstance(request, ImageToVideoRequest):
            raise ValueError("submission_key needs an image identity for GenerationSettings")
        identity = image_identity(request.prompt_image)
    fields = request_fields(request)
    payload = {"v": 1, "account": account_fingerprint, "image": identity, "request": fields}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return KEY_PREFIX + digest[:48]


_DEFAULTS: dict[str, Any] = {"contentModeration": {"publicFigureThreshold": "auto"}, "audio": True}
"""Wire fields whose value, when given, is what the API does when it is left out."""


def request_fields(settings: GenerationSettings) -> dict[str, Any]:
    """The request fields in the key: wire names, model default duration, API defaults dropped.

    Example:
        ```python
        request_fields(GenerationSettings(model="gen4_turbo", ratio="1280:720"))
        # {'model': 'gen4_turbo', 'ratio': '1280:720', 'duration': 10}
        ```
    """
    fields = {k: v for k, v in settings.settings_wire().items() if _DEFAULTS.get(k, ...) != v}
    fields["duration"] = settings.effective_duration
    return fields


GENERATION_KEY_PREFIX = "runway-task-"


def asset_identity(uri: str) -> str:
    """The stable identity of one media input, derived from its URI: a content hash for data
    URIs, the URI itself for ``runway://`` and ``s3://`` (pass ``s3://bucket/key#etag`` to
    tell versions apart), the unsigned URL for HTTPS."""
    if uri.startswith("data:"):
        return image_identity(uri)  # a content hash, whatever the media type
    if uri.startswith(("runway://", "s3://")):
        return uri
    return url_identity(uri)


def generation_key(
    account_fingerprint: str,
    request: GenerationRequest,
    identities: Mapping[str, str] | None = None,
) -> str:
    """The cache key of one paid generation on any endpoint.

    It covers the account, the endpoint, the identity of *every* media input (images,
    videos, audio, references, masks: `GenerationRequest.assets`) and the rest of the
    request. An image_to_video request keeps `submission_key`'s key, so
    `submit_image_to_video` and `submit_generation` share one record per image.

    Args:
        account_fingerprint: `RunwayCredentials.account_fingerprint`.
        request: The request as the caller wrote it (its URIs before any upload).
        identities: Identities of inputs by their path in the body (``promptImage``,
            ``references.0.uri``), for inputs whose URI is not their identity (an S3
            object's ``s3://bucket/key#etag``); the others are derived (`asset_identity`).

    Example:
        ```python
        from prefect_runway.api.requests import GenerationRequest
        from prefect_runway.ledger.keys import generation_key

        request = GenerationRequest(endpoint="text_to_image", body={
            "model": "gen4_image", "promptText": "a kite", "ratio": "1920:1080"})
        print(generation_key("acct", request))  # runway-task-...
        ```
    """
    assets = input_identities(request, identities or {})
    if request.endpoint == IMAGE_TO_VIDEO:
        i2v = request.image_settings()
        return submission_key(account_fingerprint, i2v, image_request_identity(request, assets))
    body = _with_identities(request.body, assets)
    payload = {
        "v": 1,
        "account": account_fingerprint,
        "endpoint": request.endpoint,
        "request": body,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return GENERATION_KEY_PREFIX + digest[:48]


def input_identities(request: GenerationRequest, identities: Mapping[str, str]) -> dict[str, str]:
    """Every input's identity by its path: the given one, else derived (`asset_identity`)."""
    return {path: identities.get(path) or asset_identity(uri) for path, uri in request.assets()}


def image_request_identity(request: GenerationRequest, assets: Mapping[str, str]) -> str:
    """The image identity `submission_key` takes for an image_to_video request, from its
    inputs' identities (`input_identities`): a plain image's, or ``position=identity``
    pairs, exactly as `image_identity` derives them."""
    images = request.image_settings().prompt_image
    if isinstance(images, str):
        return assets["promptImage"]
    if len(images) == 1 and images[0].position == "first":
        return assets["promptImage.0.uri"]
    return "|".join(
        f"{img.position}={assets[f'promptImage.{i}.uri']}" for i, img in enumerate(images)
    )


def generation_fields(request: GenerationRequest, identities: Mapping[str, str]) -> dict[str, Any]:
    """The request as its ledger record keeps it: the endpoint and the body, each input
    replaced by its identity (no URLs with signatures, no data URIs)."""
    assets = input_identities(request, identities)
    return {"endpoint": request.endpoint, **_with_identities(request.body, assets)}


def _with_identities(value: Any, assets: Mapping[str, str], path: str = "") -> Any:
    if path in assets:
        return assets[path]
    if isinstance(value, Mapping):
        return {
            k: _with_identities(v, assets, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _with_identities(v, assets, f"{path}.{i}" if path else str(i))
            for i, v in enumerate(value)
        ]
    return value
