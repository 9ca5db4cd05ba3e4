"""The API contract, model by model: the rules table, the client's checks, the emulator's.

Every image-to-video model of the official SDK gets one valid request, submitted through the
client to the emulator over real HTTP, and one invalid request, refused locally with its exact
message before any network call.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from prefect_runway.api import rules
from prefect_runway.api.client import RunwayClient
from prefect_runway.api.models import (
    MODEL_RULES,
    GenerationSettings,
    ImageToVideoRequest,
    PromptImage,
    SubmittedTask,
)
from scripts import update_models
from tests.conftest import API_KEY

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAYAAAAGCAIAAABvrngfAAAAKklEQVR42mP4HxUFRCe4uOCIASKELMoAxGiiDBAKWZQBrh4uyoBsMEQIAPuBLGHw9EwnAAAAAElFTkSuQmCC"  # noqa: E501
KEYFRAMES = [PromptImage(uri=PNG, position="first"), PromptImage(uri=PNG, position="last")]
MULTISHOT = {"multi_prompt": [{"duration": 3, "prompt": "a"}, {"duration": 2, "prompt": "b"}],
             "shot_type": "customize"}

VALID: dict[str, dict[str, typing.Any]] = {
    "gen4.5": {"ratio": "1280:720", "duration": 5, "prompt_text": "a cat",
               "content_moderation": {"public_figure_threshold": "low"}},
    "gen4_turbo": {"ratio": "1584:672", "duration": 2, "seed": 7},
    "veo3.1": {"ratio": "1080:1920", "duration": 8, "audio": False, "prompt_image": KEYFRAMES},
    "veo3.1_fast": {"ratio": "720:1280", "duration": 4, "negative_prompt": "blur"},
    "klingO3_4k": {"ratio": "3840:2160", "duration": 5, "audio": True},
    "klingO3_pro": {"ratio": "1920:1080", "duration": 10, "provider_settings": MULTISHOT},
    "klingO3_standard": {"ratio": "1280:720", "duration": 5, "references": [{"uri": PNG}]},
    "kling3.0_4k": {"ratio": "2880:2880", "duration": 5, "cfg_scale": 0.5},
    "kling3.0_pro": {"ratio": "1080:1920", "duration": 5, "prompt_image": KEYFRAMES},
    "kling3.0_standard": {"ratio": "960:960", "duration": 15},
    "kling2.5_turbo_pro": {"prompt_text": "a cat", "duration": 10},
    "kling_4": {"ratio": "auto_720p", "duration": 5, "references": [{"uri": PNG}]},
    "hailuo3": {"prompt_text": "a cat", "resolution": "768p", "ratio": "adaptive"},
    "h3_max": {"prompt_text": "a cat", "resolution": "480p", "prompt_expansion_mode": "disabled",
               "seed": 3},
    "happyhorse_1_0": {"resolution": "1080p", "duration": 5, "prompt_text": "x" * 2500},
    "seedance2": {"ratio": "1920:1080", "duration": "auto",
                  "prompt_image": [PromptImage(uri=PNG, position=None)] * 2},
    "seedance2_fast": {"ratio": "1280:720", "duration": 5, "prompt_text": "x" * 3500},
    "seedance2_mini": {"ratio": "640:640", "duration": 5, "audio": False},
    "seedance2_5": {"ratio": "854:480", "duration": "auto", "draft": True,
                    "output_format": "mp4", "prompt_text": "x" * 15000},
    "gemini_omni_flash": {"ratio": "1280:720", "duration": 3},
    "gemini_omni_flash_1.1": {"ratio": "3840:2160", "duration": "auto", "prompt_text": "a cat"},
    "grok_imagine_1_5": {"resolution": "720p", "duration": 6},
    "grok_imagine_1_5_lite": {"ratio": "auto_480p", "duration": 6},
    "wan3": {"ratio": "auto_720p", "prompt_text": "a cat", "audio": True},
    "wan3_prime": {"ratio": "1920:1080", "prompt_text": "a cat"},
}

INVALID: dict[str, tuple[dict[str, typing.Any], str]] = {
    "gen4.5": ({"ratio": "1280:720", "prompt_text": "a cat"},
               "duration is required by gen4.5; use an integer from 2 to 10"),
    "gen4_turbo": ({"ratio": "1280:768"},
                   "ratio '1280:768' is not supported by gen4_turbo; use one of 1280:720, "
                   "720:1280, 1104:832, 832:1104, 960:960, 1584:672"),
    "veo3.1": ({"ratio": "1280:720", "duration": 5},
               "duration 5 is not supported by veo3.1; use one of 4, 6, 8"),
    "veo3.1_fast": ({"ratio": "1280:720", "watermark": False},
                    "watermark is not accepted by veo3.1_fast (it refuses unknown fields); it "
                    "accepts audio, duration, negative_prompt, prompt_image, prompt_text, "
                    "ratio, seed"),
    "klingO3_4k": ({"ratio": "1920:1080"},
                   "ratio '1920:1080' is not supported by klingO3_4k; use one of 3840:2160, "
                   "2160:3840, 2880:2880"),
    "klingO3_pro": ({"negative_prompt": "blur"},
                    "negative_prompt is not accepted by klingO3_pro (it refuses unknown "
                    "fields); it accepts audio, duration, prompt_image, prompt_text, "
                    "provider_settings, ratio, references"),
    "klingO3_standard": ({"seed": 1},
                         "seed is not accepted by klingO3_standard (it refuses unknown fields); "
                         "it accepts audio, duration, prompt_image, prompt_text, "
                         "provider_settings, ratio, references"),
    "kling3.0_4k": ({"references": [{"uri": PNG}]},
                    "references is not accepted by kling3.0_4k (it refuses unknown fields); it "
                    "accepts audio, cfg_scale, duration, prompt_image, prompt_text, "
                    "provider_settings, ratio"),
    "kling3.0_pro": ({"prompt_image": [PromptImage(uri=PNG, position="last")]},
                     "prompt_image has a 'last' frame without a 'first' one; kling3.0_pro "
                     "needs a first frame"),
    "kling3.0_standard": ({"duration": "auto"},
                          "duration 'auto' is not supported by kling3.0_standard; use an "
                          "integer"),
    "kling2.5_turbo_pro": ({"prompt_text": "a cat", "ratio": "1280:720"},
                           "ratio is not accepted by kling2.5_turbo_pro (it refuses unknown "
                           "fields); it accepts cfg_scale, duration, prompt_image, prompt_text"),
    "kling_4": ({"ratio": "1280:720"},
                "ratio '1280:720' is not supported by kling_4; use one of auto_720p, "
                "auto_1080p"),
    "hailuo3": ({"resolution": "768p"},
                "prompt_text is required by hailuo3; use a string"),
    "h3_max": ({"prompt_text": "a cat", "resolution": "1080p"},
               "resolution '1080p' is not supported by h3_max; use one of 480p, 768p"),
    "happyhorse_1_0": ({"prompt_text": "x" * 2501},
                       "prompt_text is 2501 UTF-16 code units long; happyhorse_1_0 accepts at "
                       "most 2500 (emoji and other astral characters count as 2)"),
    "seedance2": ({"prompt_image": [PromptImage(uri=PNG), PromptImage(uri=PNG, position=None)]},
                  "prompt_image positions ['first', None] mix keyframes and reference images; "
                  "seedance2 takes either first/last frames or images without a position"),
    "seedance2_fast": ({"ratio": "1920:1080"},
                       "ratio '1920:1080' is not supported by seedance2_fast; use one of "
                       "992:432, 864:496, 752:560, 640:640, 560:752, 496:864, 1470:630, "
                       "1280:720, 1112:834, 960:960, 834:1112, 720:1280"),
    "seedance2_mini": ({"prompt_text": "🎬" * 1751},
                       "prompt_text is 3502 UTF-16 code units long; seedance2_mini accepts at "
                       "most 3500 (emoji and other astral characters count as 2)"),
    "seedance2_5": ({"output_format": "prores"},
                    "output_format 'prores' is not supported by seedance2_5; use one of mp4, "
                    "mov"),
    "gemini_omni_flash": ({"duration": 11},
                          "duration 11 is not supported by gemini_omni_flash; use an integer "
                          "from 3 to 10"),
    "gemini_omni_flash_1.1": ({"duration": 5},
                              "prompt_text is required by gemini_omni_flash_1.1; use a string"),
    "grok_imagine_1_5": ({"resolution": "4k"},
                         "resolution '4k' is not supported by grok_imagine_1_5; use one of "
                         "480p, 720p, 1080p"),
    "grok_imagine_1_5_lite": ({"prompt_image": KEYFRAMES},
                              "prompt_image position 'last' is not supported by "
                              "grok_imagine_1_5_lite; only 'first' is allowed"),
    "wan3": ({"prompt_text": "", "ratio": "auto_720p"},
             "prompt_text is required by wan3 and must not be empty"),
    "wan3_prime": ({"prompt_text": "a cat", "ratio": "auto_4k"},
                   "ratio 'auto_4k' is not supported by wan3_prime; use one of 832:480, "
                   "720:544, 624:624, 544:720, 480:832, 1280:720, 1104:832, 960:960, "
                   "832:1104, 720:1280, 1920:1080, 1648:1248, 1440:1440, 1248:1648, "
                   "1080:1920, auto_480p, auto_720p, auto_1080p"),
}


def make(model: str, fields: dict[str, typing.Any]) -> ImageToVideoRequest:
    return ImageToVideoRequest(**{"prompt_image": PNG, "model": model, **fields})


def test_the_tables_cover_the_sdk_models():
    runwayml = pytest.importorskip("runwayml")
    from runwayml.types import image_to_video_create_params as params

    names = {
        typing.get_args(typing.get_type_hints(cls, include_extras=True)["model"].__args__[0])[0]
        for cls in typing.get_args(params.ImageToVideoCreateParams)
    }
    assert len(names) == 25
    assert set(MODEL_RULES) == set(VALID) == set(INVALID) == names
    assert rules.SDK_VERSION == runwayml.__version__


def test_generated_table_is_current_with_the_installed_sdk():
    pytest.importorskip("runwayml")
    from runwayml.types import image_to_video_create_params as params

    source = Path(params.__file__).read_text()
    assert update_models.build_table(update_models.parse_type_file(source)) == rules.MODELS


def test_emulator_never_imports_the_client_validation():
    """The emulator reads only the data modules (rules, endpoints, limits) of the package."""
    emulator_dir = Path(__file__).parents[1] / "prefect_runway" / "testing" / "emulator"
    paths = sorted(emulator_dir.glob("*.py"))
    assert len(paths) > 5
    allowed = {"prefect_runway.api.rules", "prefect_runway.api.endpoints",
               "prefect_runway.api.limits"}  # fmt: skip
    for path in paths:
        text = path.read_text()
        assert "prefect_runway.api.models" not in text and "prefect_runway.api.client" not in text
        assert "from .. import" not in text and "from ..rules" not in text, path.name
        imported = {name for name in re.findall(r"^\s*(?:from|import) (prefect_runway[\w.]*)",
                                                text, re.M)}  # fmt: skip
        imported |= {f"{base}.{name}" for base, name in re.findall(
            r"^\s*from (prefect_runway[\w.]*) import (\w+)", text, re.M)}  # fmt: skip
        assert imported <= allowed | {"prefect_runway.api"}, (path.name, imported - allowed)


@pytest.mark.parametrize("model", sorted(VALID))
def test_valid_request_for_each_model_is_accepted_by_the_emulator(model, emulator):
    request = make(model, VALID[model])
    local = request.estimated_credits()
    assert local is not None and local > 0
    with RunwayClient(API_KEY, base_url=emulator.base_url, backoff_base=0.01) as client:
        submitted = client.image_to_video(request)
    (task,) = emulator.tasks()
    assert task["model"] == model and task["body"] == request.to_wire()
    assert submitted.estimated_cost_credits == local


@pytest.mark.parametrize("model", sorted(INVALID))
def test_invalid_request_for_each_model_is_refused_locally(model):
    fields, message = INVALID[model]
    with pytest.raises(ValidationError) as info:
        make(model, fields)
    errors = info.value.errors()
    assert len(errors) == 1
    assert errors[0]["msg"] == f"Value error, {message}"


def test_wire_names_are_camel_case_and_unset_fields_are_omitted():
    request = make("klingO3_pro", {"ratio": "1920:1080", "provider_settings": MULTISHOT,
                                   "references": [{"uri": PNG, "position": "first"}]})
    assert request.to_wire() == {
        "promptImage": PNG, "model": "klingO3_pro", "ratio": "1920:1080",
        "references": [{"uri": PNG, "position": "first"}],
        "providerSettings": {"multiPrompt": [{"duration": 3, "prompt": "a"},
                                             {"duration": 2, "prompt": "b"}],
                             "shotType": "customize"},
    }
    settings = GenerationSettings(model="wan3", prompt_text="a", reference_audio=[
        {"type": "audio", "uri": "https://example.com/a.mp3"}])
    assert settings.settings_wire() == {
        "model": "wan3", "promptText": "a",
        "referenceAudio": [{"type": "audio", "uri": "https://example.com/a.mp3"}],
    }


def test_gen45_without_duration_is_refused_with_the_allowed_values():
    with pytest.raises(ValidationError, match="duration is required by gen4.5; use an integer "
                       "from 2 to 10"):
        GenerationSettings(model="gen4.5", ratio="1280:720", prompt_text="a cat")


@pytest.mark.parametrize(("model", "fields", "credits"), [
    ("gen4_turbo", {"ratio": "1280:720"}, 50),
    ("gen4.5", {"ratio": "1280:720", "duration": 10, "prompt_text": "x"}, 120),
    ("veo3.1", {"ratio": "1280:720"}, 320),
    ("veo3.1", {"ratio": "1280:720", "audio": False}, 160),
    ("veo3.1_fast", {"ratio": "1280:720", "duration": 6}, 90),
    ("veo3.1_fast", {"ratio": "1280:720", "duration": 6, "audio": False}, 60),
    ("seedance2", {"duration": "auto"}, 450),
    ("kling2.5_turbo_pro", {"prompt_text": "x"}, 75),
])
def test_estimated_credits_by_model(model, fields, credits):
    assert GenerationSettings(model=model, **fields).estimated_credits() == credits


def test_every_known_model_has_a_price_and_unknown_models_none():
    for name, model_rules in MODEL_RULES.items():
        assert model_rules.credits > 0, name
    assert GenerationSettings(model="proxy_only_model").estimated_credits() is None


def test_unknown_models_get_only_the_universal_checks():
    request = make("proxy_only_model", {"ratio": "auto", "duration": "auto",
                                        "prompt_text": "x" * 5000, "anything": 1})
    assert request.to_wire()["anything"] == 1
    with pytest.raises(ValidationError, match="seed -1 is out of range"):
        make("proxy_only_model", {"seed": -1})
    with pytest.raises(ValidationError, match="must be an https:// URL"):
        ImageToVideoRequest(prompt_image="ftp://example.com/a.png", model="proxy_only_model")


def test_retired_models_keep_their_proxy_rules():
    request = make("gen3a_turbo", {"ratio": "1280:768", "prompt_text": "x", "duration": 5})
    assert request.check_dialect("proxy") is request
    with pytest.raises(ValueError, match="use gen4_turbo instead"):
        request.check_dialect("runway")
    with pytest.raises(ValidationError, match="duration 7 is not supported by gen3a_turbo; use "
                       "one of 5, 10"):
        make("gen3a_turbo", {"ratio": "1280:768", "prompt_text": "x", "duration": 7})


def test_submitted_task_reads_the_estimated_cost_of_every_shape():
    assert SubmittedTask.from_response(
        {"id": "t", "estimatedCost": {"credits": 120}}).estimated_cost_credits == 120
    assert SubmittedTask.from_response({"id": "t"}).estimated_cost_credits is None
    wrapped = {"code": 200, "data": {"task_id": "t", "estimatedCost": {"credits": 7}}}
    assert SubmittedTask.from_response(wrapped).estimated_cost_credits == 7


def test_readme_model_table_agrees_with_the_rules():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split(update_models.README_BEGIN, 1)[1].split(update_models.README_END)[0]
    assert section.strip() == update_models.readme_table(rules.MODELS)


def test_generator_refuses_a_model_without_reviewed_facts():
    source = '''
from typing import Union
from typing_extensions import Literal, Required, TypedDict

class NewModel(TypedDict, total=False):
    model: Required[Literal["new_model"]]
    prompt_image: Required[str]
    duration: int
    """Seconds, from 2 to 12."""

ImageToVideoCreateParams: TypeAlias = Union[NewModel]
'''
    parsed = update_models.parse_type_file(source)
    assert parsed["new_model"]["fields"]["duration"] == {"type": "integer", "min": 2, "max": 12}
    with pytest.raises(SystemExit, match=r"add prices and durations to FACTS .*new_model"):
        update_models.build_table(parsed)
