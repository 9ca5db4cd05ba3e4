"""One rule, two readings: the client's checks and the emulator's agree on every case.

The client validates a request before any credit is spent (`prefect_runway.api.models`); the
emulator validates it the way Runway does, with its own code
(`prefect_runway.testing.emulator.validation`). Both read the same facts: the generated
`prefect_runway.api.rules` table and the published limits in `prefect_runway.api.limits`. This
table runs every case through both and fails, naming the case, when one accepts what the other
refuses, or when either gives another verdict than Runway's documented one.

A case is a request body as it goes on the wire (camelCase). The client's verdict is
``ImageToVideoRequest.model_validate(body).check_dialect(dialect)`` (and the same through
``GenerationSettings(...).for_image(...)``, the flows' entry point); the emulator's is
``validate_submit(body, ...)``. When the client accepts, the body it would send
(``to_wire()``) must pass the emulator too.

Out of the table on purpose (the client leaves them to the server): models a proxy serves that
the table does not know (dialect "proxy"), whether a ``runway://`` upload was completed, and
what an image URL answers to HEAD.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from prefect_runway.api import limits, rules
from prefect_runway.api.models import (
    GenerationSettings,
    ImageToVideoRequest,
    PromptImage,
    redact_url,
)
from prefect_runway.images import sniff_image_type
from prefect_runway.testing.emulator.multipart import sniff_image
from prefect_runway.testing.emulator.samples import GIF, png
from prefect_runway.testing.emulator.validation import ValidatedSubmit, safe_url, validate_submit

ACCEPT, REFUSE = "accept", "refuse"
URL = "https://images.example.com/cat.png"
SECRET = "SECRETSIG"
PNG = png(16, 9, (200, 10, 10))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Case:
    """One input and Runway's documented verdict on it.

    Attributes:
        name: The case's test ID.
        body: The request body, wire names.
        expect: ``accept`` or ``refuse``.
        dialect: ``runway`` (official) or ``proxy``.
        loopback: Whether loopback URLs are allowed (the client's
            ``PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS``, the emulator's ``allow_http_loopback``).
    """

    name: str
    body: dict[str, Any]
    expect: str
    dialect: str = "runway"
    loopback: bool = False
    notes: tuple[str, ...] = field(default=())


def _first(spec: dict[str, Any]) -> Any:
    """A value the rule accepts."""
    kind = spec["type"]
    if kind == "enum":
        return spec["values"][0]
    if kind in ("integer", "integer_or_auto"):
        return spec.get("min", 5)
    if kind == "string":
        return "a cat dances"
    if kind == "boolean":
        return True
    raise AssertionError(f"no sample value for a required {kind}")


def minimal(model: str, **fields: Any) -> dict[str, Any]:
    """The smallest valid body for `model`: its required fields, then `fields` on top."""
    spec = (rules.MODELS.get(model) or rules.RETIRED[model])["fields"]
    body: dict[str, Any] = {"model": model, "promptImage": URL}
    for key, rule in spec.items():
        if rule.get("required") and key != "promptImage":
            body[key] = _first(rule)
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def gen4(**fields: Any) -> dict[str, Any]:
    return minimal("gen4_turbo", ratio="1280:720", **fields)


def image(uri: str, expect: str, name: str, loopback: bool = False) -> Case:
    return Case(f"image-{name}", gen4(promptImage=uri), expect, loopback=loopback)


def _at_length(prefix: str, suffix: str, total: int) -> str:
    return prefix + "a" * (total - len(prefix) - len(suffix)) + suffix


# -- image references --------------------------------------------------------------------------

HEAD = "data:image/png;xyz=1;base64,"  # 28 characters: the payload at the limit stays base64
URI_CASES = [
    image(URL, ACCEPT, "https-domain"),
    image(f"{URL}?X-Amz-Signature={SECRET}&X-Amz-Credential=AKIA", ACCEPT, "https-query"),
    image("https://images.example.com:8443/cat.png", ACCEPT, "https-port"),
    image("HTTPS://Images.Example.COM/cat.png", ACCEPT, "https-upper-case"),
    image("https://user:pw@images.example.com/cat.png", ACCEPT, "https-user-info"),
    image("https://images.example.com./cat.png", ACCEPT, "https-trailing-dot"),
    image("https:///cat.png", REFUSE, "no-host"),
    image("https://", REFUSE, "scheme-only"),
    image("//images.example.com/cat.png", REFUSE, "no-scheme"),
    image("images.example.com/cat.png", REFUSE, "bare-path"),
    image(f"https://intranet/cat.png?sig={SECRET}", REFUSE, "intranet-host"),
    image("https://10.0.0.7/cat.png", REFUSE, "ipv4-literal"),
    image("https://[2001:db8::1]/cat.png", REFUSE, "ipv6-literal"),
    image("https://[::1]/cat.png", REFUSE, "ipv6-loopback-not-allowed"),
    image("https://127.0.0.1/cat.png", REFUSE, "ipv4-loopback-not-allowed"),
    image("https://localhost/cat.png", REFUSE, "localhost-not-allowed"),
    image("http://127.0.0.1:9000/cat.png", REFUSE, "http-loopback-not-allowed"),
    image("http://127.0.0.1:9000/cat.png", ACCEPT, "http-127-allowed", loopback=True),
    image("http://localhost:9000/cat.png", ACCEPT, "http-localhost-allowed", loopback=True),
    image("http://[::1]:9000/cat.png", ACCEPT, "http-ipv6-loopback-allowed", loopback=True),
    image("https://[::1]/cat.png", ACCEPT, "https-ipv6-loopback-allowed", loopback=True),
    image("https://127.0.0.1/cat.png", ACCEPT, "https-127-allowed", loopback=True),
    image("ftp://localhost/cat.png", REFUSE, "ftp-loopback-allowed", loopback=True),
    image("http://10.0.0.7/cat.png", REFUSE, "http-lan-ip-loopback-allowed", loopback=True),
    image("http://images.example.com/cat.png", REFUSE, "http-domain"),
    image("http://images.example.com/cat.png", REFUSE, "http-domain-loopback-on", loopback=True),
    image(f"http://images.example.com/cat.png?X-Amz-Signature={SECRET}", REFUSE, "http-query"),
    image("s3://stills/cat.png", REFUSE, "s3-uri"),
    image("file:///tmp/cat.png", REFUSE, "file-uri"),
    image("https://images.example.com:99999/cat.png", REFUSE, "port-out-of-range"),
    image("https://images.example.com:http/cat.png", REFUSE, "port-not-a-number"),
    image("https://[::1/cat.png", REFUSE, "broken-ipv6"),
    image(_at_length("https://images.example.com/", ".png", 2048), ACCEPT, "url-2048-chars"),
    image(_at_length("https://images.example.com/", ".png", 2049), REFUSE, "url-2049-chars"),
    image(_at_length("https://images.example.com/c.png?token=", SECRET, 2100), REFUSE,
          "url-long-query"),  # fmt: skip
    image("runway://uploads/0123abcd", ACCEPT, "runway-upload"),
    image("runway://", REFUSE, "runway-empty"),
    image(_at_length("runway://uploads/", "", 5000), ACCEPT, "runway-5000-chars"),
    image(_at_length("runway://uploads/", "", 5001), REFUSE, "runway-5001-chars"),
    image("data:image/png;base64," + b64(PNG), ACCEPT, "data-png"),
    image("data:image/jpeg;base64," + b64(JPEG), ACCEPT, "data-jpeg"),
    image("data:image/webp;base64," + b64(WEBP), ACCEPT, "data-webp"),
    image("data:IMAGE/PNG;base64," + b64(PNG), ACCEPT, "data-upper-case-type"),
    image("data:image/png;BASE64," + b64(PNG), REFUSE, "data-upper-case-base64"),
    image("data:image/png;name=cat.png;base64," + b64(PNG), ACCEPT, "data-with-parameter"),
    image("data:image/png;base64;name=cat.png," + b64(PNG), REFUSE, "data-base64-not-last"),
    image("data:image/png; base64," + b64(PNG), REFUSE, "data-space-before-base64"),
    image("data:image/png;base64;," + b64(PNG), REFUSE, "data-empty-last-parameter"),
    image("data:image/png," + b64(PNG), REFUSE, "data-not-base64"),
    image("data:image/png;base64", REFUSE, "data-no-comma"),
    image("data:image/png;base64,", REFUSE, "data-empty-payload"),
    image("data:image/png;base64,***not-base64***", REFUSE, "data-bad-base64"),
    image("data:image/png;base64," + b64(PNG)[:-2], REFUSE, "data-missing-padding"),
    image("data:image/png;base64," + b64(PNG)[:20] + "\n" + b64(PNG)[20:], REFUSE,
          "data-newline-in-payload"),  # fmt: skip
    image("data:image/png;base64," + b64(PNG).replace("+", "-").replace("/", "_") + "-_",
          REFUSE, "data-url-safe-alphabet"),  # fmt: skip
    image("data:image/gif;base64," + b64(GIF), REFUSE, "data-gif"),
    image("data:image/jpg;base64," + b64(JPEG), REFUSE, "data-image-jpg"),
    image("data:image/x-png;base64," + b64(PNG), REFUSE, "data-x-png"),
    image("data:application/octet-stream;base64," + b64(PNG), REFUSE, "data-octet-stream"),
    image("data:text/plain;base64," + b64(b"hello"), REFUSE, "data-text"),
    image("data:;base64," + b64(PNG), REFUSE, "data-no-type"),
    image(HEAD + "A" * (limits.MAX_DATA_URI_CHARS - len(HEAD)), ACCEPT, "data-at-limit"),
    image(HEAD + "A" * (limits.MAX_DATA_URI_CHARS - len(HEAD) + 4), REFUSE, "data-over-limit"),
    image("", REFUSE, "empty-string"),
    Case("image-missing", {"model": "gen4_turbo", "ratio": "1280:720"}, REFUSE),
    Case("image-a-number", gen4(promptImage=5), REFUSE),
    Case("image-empty-list", gen4(promptImage=[]), REFUSE),
    Case("image-list-bad-uri", gen4(promptImage=[{"uri": "https://intranet/a.png",
                                                  "position": "first"}]), REFUSE),  # fmt: skip
]

# -- models ------------------------------------------------------------------------------------

MODEL_CASES = [
    *(Case(f"model-{model}", minimal(model), ACCEPT) for model in rules.MODELS),
    *(Case(f"model-{model}-proxy", minimal(model), ACCEPT, dialect="proxy")
      for model in rules.MODELS),  # fmt: skip
    *(Case(f"retired-{model}-official", minimal(model), REFUSE) for model in rules.RETIRED),
    *(Case(f"retired-{model}-proxy", minimal(model), ACCEPT, dialect="proxy")
      for model in rules.RETIRED),  # fmt: skip
    Case("model-misspelt-gen4-turbo", {**gen4(), "model": "gen4-turbo"}, REFUSE),
    Case("model-upper-case", {**gen4(), "model": "GEN4_TURBO"}, REFUSE),
    Case("model-missing", {"promptImage": URL, "ratio": "1280:720"}, REFUSE),
    Case("model-not-a-string", {**gen4(), "model": 4}, REFUSE),
    Case("model-unknown-field-open", gen4(watermark=False), ACCEPT),
    Case("model-unknown-field-closed", minimal("veo3.1", watermark=False), REFUSE),
    Case("model-gen4_5-without-duration", minimal("gen4.5", duration=None), REFUSE),
    Case("model-gen4_5-without-prompt", minimal("gen4.5", promptText=None), REFUSE),
    Case("model-gen4_5-blank-prompt", minimal("gen4.5", promptText="   "), REFUSE),
    Case("model-gen3a_turbo-without-prompt", minimal("gen3a_turbo", promptText=None), REFUSE,
         dialect="proxy"),  # fmt: skip
]


# -- fields, per model -------------------------------------------------------------------------


def _field_cases() -> list[Case]:
    cases: list[Case] = []
    for model, raw in {**rules.MODELS, **rules.RETIRED}.items():
        dialect = "proxy" if model in rules.RETIRED else "runway"
        spec = raw["fields"]

        def case(
            name: str, expect: str, model: str = model, dialect: str = dialect, **fields: Any
        ) -> None:
            cases.append(Case(f"{model}-{name}", minimal(model, **fields), expect, dialect))

        ratio = spec.get("ratio")
        if ratio is not None and ratio["type"] == "enum":
            for value in ratio["values"]:
                case(f"ratio-{value}", ACCEPT, ratio=value)
            for value in ("1280:768", "16:9", "", 1280):
                if value not in ratio["values"]:
                    case(f"ratio-{value!r}", REFUSE, ratio=value)
        duration = spec.get("duration")
        if duration is not None:
            if duration["type"] == "enum":
                allowed = list(duration["values"])
                for value in allowed:
                    case(f"duration-{value}", ACCEPT, duration=value)
                for value in {min(allowed) - 1, max(allowed) + 1, 7} - set(allowed):
                    case(f"duration-{value}", REFUSE, duration=value)
            else:
                low, high = duration.get("min", 1), duration.get("max")
                case(f"duration-{low}", ACCEPT, duration=low)
                case(f"duration-{low - 1}", REFUSE, duration=low - 1)
                if high is not None:
                    case(f"duration-{high}", ACCEPT, duration=high)
                    case(f"duration-{high + 1}", REFUSE, duration=high + 1)
                auto = ACCEPT if duration["type"] == "integer_or_auto" else REFUSE
                case("duration-auto", auto, duration="auto")
            case("duration-text", REFUSE, duration="five")
            case("duration-float", REFUSE, duration=5.5)
        if "seed" in spec:
            for value, expect in ((limits.MIN_SEED, ACCEPT), (limits.MAX_SEED, ACCEPT),
                                  (limits.MIN_SEED - 1, REFUSE), (limits.MAX_SEED + 1, REFUSE)):
                case(f"seed-{value}", expect, seed=value)
        else:
            case("seed-not-accepted", REFUSE, seed=1)
        prompt = spec.get("promptText")
        if prompt is not None and prompt.get("max_length"):
            most = prompt["max_length"]
            case("prompt-at-limit", ACCEPT, promptText="a" * most)
            case("prompt-over-limit", REFUSE, promptText="a" * (most + 1))
            case("prompt-astral-at-limit", ACCEPT, promptText="🎬" * (most // 2))
            case("prompt-astral-over-limit", REFUSE, promptText="🎬" * (most // 2) + "a")
        if prompt is not None:
            case("prompt-unicode", ACCEPT, promptText="un chat danse, é 🎬")
            case("prompt-not-a-string", REFUSE, promptText=5)
        positions = raw["positions"]
        first, last = {"uri": URL, "position": "first"}, {"uri": URL, "position": "last"}
        reference = {"uri": URL}
        case("position-first", ACCEPT, promptImage=[first])
        case("position-first-last", ACCEPT if "last" in positions else REFUSE,
             promptImage=[first, last])  # fmt: skip
        case("position-last-only", REFUSE, promptImage=[last])
        case("position-first-twice", REFUSE, promptImage=[first, first])
        case("position-middle", REFUSE, promptImage=[{"uri": URL, "position": "middle"}])
        case("position-three-frames", REFUSE, promptImage=[first, last, first])
        if not raw["position_required"]:
            case("references-1", ACCEPT, promptImage=[reference])
            case(f"references-{limits.MAX_PROMPT_IMAGES}", ACCEPT,
                 promptImage=[reference] * limits.MAX_PROMPT_IMAGES)  # fmt: skip
            case(f"references-{limits.MAX_PROMPT_IMAGES + 1}", REFUSE,
                 promptImage=[reference] * (limits.MAX_PROMPT_IMAGES + 1))  # fmt: skip
            case("references-mixed-with-frame", REFUSE, promptImage=[first, reference])
        else:
            case("reference-not-supported", REFUSE, promptImage=[{**reference, "position": None}])
    return cases


FIELD_CASES = _field_cases()
CASES = URI_CASES + MODEL_CASES + FIELD_CASES


# -- the two readings --------------------------------------------------------------------------


def client_verdict(case: Case, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """The client's verdict through `ImageToVideoRequest`, and its wire body when accepted."""
    if case.loopback:
        monkeypatch.setenv(limits.ALLOW_LOOPBACK_ENV, "1")
    else:
        monkeypatch.delenv(limits.ALLOW_LOOPBACK_ENV, raising=False)
    try:
        request = ImageToVideoRequest.model_validate(case.body).check_dialect(case.dialect)
    except (ValidationError, ValueError) as exc:
        return False, str(exc)
    return True, repr(request.to_wire())[:200]


def settings_verdict(case: Case) -> bool | None:
    """The client's verdict through `GenerationSettings.for_image` (the flows' path); None
    when the body has no image that path could take."""
    rest = {key: value for key, value in case.body.items() if key != "promptImage"}
    image = case.body.get("promptImage")
    if not isinstance(image, (str, list)) or (
        isinstance(image, list)
        and not all(isinstance(item, dict) and "position" in item for item in image)
    ):
        return None  # PromptImage's own default position differs from the wire's reading
    try:
        settings = GenerationSettings.model_validate(rest).check_dialect(case.dialect)
        if isinstance(image, list):
            settings.for_image([PromptImage.model_validate(item) for item in image])
        else:
            settings.for_image(image)
    except (ValidationError, ValueError):
        return False
    return True


def emulator_verdict(body: dict[str, Any], case: Case) -> tuple[bool, str]:
    """The emulator's verdict (every ``runway://uploads/`` token counts as uploaded)."""
    result = validate_submit(
        body, upload_ready=lambda token: bool(token), allow_http_loopback=case.loopback,
        dialect=case.dialect,
    )  # fmt: skip
    if isinstance(result, ValidatedSubmit):
        return True, ""
    return False, "; ".join(issue.message for issue in result)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_client_and_emulator_agree(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    client_ok, client_says = client_verdict(case, monkeypatch)
    emulator_ok, emulator_says = emulator_verdict(case.body, case)
    verdict = {True: ACCEPT, False: REFUSE}
    assert client_ok == emulator_ok, (
        f"{case.name}: the client would {verdict[client_ok]} ({client_says}), the emulator "
        f"would {verdict[emulator_ok]} ({emulator_says})"
    )
    assert verdict[client_ok] == case.expect, (
        f"{case.name}: both {verdict[client_ok]}, Runway's documented verdict is {case.expect}: "
        f"client: {client_says}; emulator: {emulator_says}"
    )
    settings_ok = settings_verdict(case)
    assert settings_ok in (None, client_ok), f"{case.name}: GenerationSettings.for_image differs"
    if not client_ok:  # refusals never show a URL's query or user info
        for message in (client_says, emulator_says):
            assert SECRET not in message, f"{case.name}: a URL's query leaked: {message}"
    if client_ok:  # what the client sends passes the emulator too
        request = ImageToVideoRequest.model_validate(case.body)
        assert emulator_verdict(request.to_wire(), case) == (True, "")


def test_every_model_of_the_rules_table_is_in_the_table() -> None:
    names = {case.body.get("model") for case in CASES}
    assert set(rules.MODELS) | set(rules.RETIRED) <= names
    for model in rules.MODELS:
        assert f"model-{model}" in {case.name for case in CASES}


def test_refusals_name_the_field_value_and_what_is_allowed(monkeypatch) -> None:
    """A few refusals, word for word where they matter: the field, the value, the rule."""
    def message(body: dict[str, Any], loopback: bool = False) -> str:
        ok, says = client_verdict(Case("m", body, REFUSE, loopback=loopback), monkeypatch)
        assert not ok
        return says

    assert ("prompt_image 'https://intranet/cat.png' has no domain host (intranet); Runway "
            "requires a domain name (with a dot), not an IP address") in message(
                gen4(promptImage="https://intranet/cat.png"))  # fmt: skip
    assert "PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS=1" in message(
        gen4(promptImage="https://localhost/cat.png"))
    assert "uses an IP address host (::1)" in message(gen4(promptImage="https://[::1]/cat.png"))
    assert "prompt_image 'https://images.example.com:99999/cat.png' is not a valid URL" in (
        message(gen4(promptImage="https://images.example.com:99999/cat.png")))
    assert "prompt_image data URI holds no image data" in message(
        gen4(promptImage="data:image/png;base64,"))
    assert (f"prompt_image holds {limits.MAX_PROMPT_IMAGES + 1} images; seedance2 takes at most "
            f"{limits.MAX_PROMPT_IMAGES}") in message(minimal(
                "seedance2", promptImage=[{"uri": URL}] * (limits.MAX_PROMPT_IMAGES + 1)))
    assert f"seed {limits.MAX_SEED + 1} is out of range; use an integer 0..{limits.MAX_SEED}" in (
        message(gen4(seed=limits.MAX_SEED + 1)))


@pytest.mark.parametrize("model", sorted(rules.MODELS))
def test_a_wire_image_without_position(model: str) -> None:
    """The one deliberate difference on raw bodies: Runway (and the emulator) read a list image
    without ``position`` as a reference image, refused where positions are required; the client
    reads it as `PromptImage`'s default, ``first``, there, and sends the position, so what
    it sends passes. Where positions are optional both read a reference image."""
    body = minimal(model, promptImage=[{"uri": URL}])
    request = ImageToVideoRequest.model_validate(body)
    case = Case(model, body, ACCEPT)
    assert emulator_verdict(request.to_wire(), case) == (True, "")
    required = (rules.MODELS[model])["position_required"]
    assert request.to_wire()["promptImage"] == [{"uri": URL, "position": "first"} if required
                                                else {"uri": URL}]  # fmt: skip
    assert emulator_verdict(body, case)[0] is not required


def test_for_image_keeps_a_reference_a_reference() -> None:
    """``GenerationSettings.for_image`` once turned ``position=None`` into ``first``."""
    settings = GenerationSettings.model_validate(minimal("seedance2", promptImage=None))
    request = settings.for_image([PromptImage(uri=URL, position=None)] * 2)
    assert request.to_wire()["promptImage"] == [{"uri": URL}, {"uri": URL}]
    with pytest.raises(ValidationError, match="a reference image"):
        GenerationSettings(model="gen4_turbo", ratio="1280:720").for_image(
            [PromptImage(uri=URL, position=None)])


# -- helpers with two copies, pinned equal ----------------------------------------------------

REDACTED_URLS = [
    "https://images.example.com/cat.png",
    f"https://images.example.com/cat.png?X-Amz-Signature={SECRET}",
    f"https://user:{SECRET}@images.example.com/cat.png#frag",
    "https://Images.Example.COM:8443/a/b.png?x=1",
    "http://[::1]:9000/cat.png?sig=1",
    "https://images.example.com:99999/cat.png",
    f"https://u:{SECRET}@images.example.com:http/cat.png",
    "https://[::1/cat.png",
    "s3://stills/cat.png",
]


@pytest.mark.parametrize("url", REDACTED_URLS)
def test_url_redaction_is_one_rule(url: str) -> None:
    """`redact_url` (the client's) and ``safe_url`` (the emulator's) show the same URL; the
    client only adds a ``?<redacted>`` marker where it dropped a query."""
    client, emulator = redact_url(url), safe_url(url)
    assert client.removesuffix("?<redacted>") == emulator
    assert SECRET not in client and SECRET not in emulator


SNIFFED = {
    "png": PNG, "jpeg": JPEG, "webp": WEBP, "gif": GIF, "empty": b"", "text": b"hello world",
    "riff-not-webp": b"RIFF\x24\x00\x00\x00WAVEfmt ", "short-riff": b"RIFF", "jpeg-2": b"\xff\xd8",
    "png-truncated-signature": PNG[:5], "bmp": b"BM" + bytes(30),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SNIFFED))
def test_image_sniffing_is_one_rule(name: str) -> None:
    """The client's ``sniff_image_type`` and the emulator's ``sniff_image`` accept the same
    bytes as the same type (the client also names a GIF, which it then refuses)."""
    data = SNIFFED[name]
    client = sniff_image_type(data[:16])
    accepted = client if client in limits.IMAGE_CONTENT_TYPES else None
    assert accepted == sniff_image(data)
