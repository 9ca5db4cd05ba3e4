# ruff: noqa
# Vendored from the runwayml 5.24.0 sdist (tests/api_resources/test_image_to_video.py), Copyright 2026 RunwayML,
# licensed under the Apache License 2.0 (LICENSE-runwayml beside this file).
# Change: imports from tests.sdk.utils instead of tests.utils.
# File generated from our OpenAPI spec by Stainless. See CONTRIBUTING.md for details.

from __future__ import annotations

import os
from typing import Any, cast

import pytest

from runwayml import RunwayML, AsyncRunwayML
from tests.sdk.utils import assert_matches_type
from runwayml.types import ImageToVideoCreateResponse

base_url = os.environ.get("TEST_API_BASE_URL", "http://127.0.0.1:4010")


class TestImageToVideo:
    parametrize = pytest.mark.parametrize("client", [False, True], indirect=True, ids=["loose", "strict"])

    @parametrize
    def test_method_create_overload_1(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_1(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
            content_moderation={"public_figure_threshold": "auto"},
            output_format="mp4",
            prores_profile="422",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_1(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_1(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_2(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_2(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            content_moderation={"public_figure_threshold": "auto"},
            duration=2,
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_2(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_2(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_3(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_3(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            audio=True,
            duration=4,
            negative_prompt="x",
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_3(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_3(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_4(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_4(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            audio=True,
            duration=4,
            negative_prompt="x",
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_4(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_4(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_5(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_5(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="3840:2160",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_5(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_5(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_6(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_6(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration=5,
            ratio="adaptive",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            resolution="2k",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_6(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_6(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_7(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_7(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="3840:2160",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_7(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_7(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_8(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_8(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="xx",
            resolution="720p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_8(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_8(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_9(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_9(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
            cfg_scale=0,
            duration=5,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_9(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_9(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_10(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_10(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1920:1080",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_10(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_10(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_11(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_11(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_11(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_11(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_12(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_12(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1920:1080",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_12(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_12(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_13(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_13(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1280:720",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_13(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_13(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_14(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_14(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_14(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_14(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_15(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_15(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_15(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_15(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_16(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_16(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_16(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_16(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_17(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_17(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="x",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_17(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_17(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_18(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_18(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
            duration=1,
            prompt_text="x",
            resolution="480p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_18(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_18(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_19(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_19(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            audio=True,
            duration=2,
            ratio="832:480",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            reference_videos=[
                {
                    "type": "video",
                    "uri": "https://example.com/video.mp4",
                }
            ],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_19(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_19(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_20(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_20(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration="auto",
            ratio="640:360",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_20(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_20(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_21(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_21(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            audio=True,
            duration=2,
            ratio="832:480",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            reference_videos=[
                {
                    "type": "video",
                    "uri": "https://example.com/video.mp4",
                }
            ],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_21(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_21(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_22(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_22(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration=5,
            prompt_expansion_mode="disabled",
            resolution="768p",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_22(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_22(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_23(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_23(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            draft=True,
            duration="auto",
            output_format="mp4",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_23(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_23(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_24(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_24(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
            duration=1,
            prompt_text="x",
            ratio="auto_480p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_24(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_24(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    def test_method_create_overload_25(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_method_create_with_all_params_overload_25(self, client: RunwayML) -> None:
        image_to_video = client.image_to_video.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="x",
            ratio="auto_720p",
            references=[{"uri": "https://example.com/image.jpg"}],
            reference_videos=[{}],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_raw_response_create_overload_25(self, client: RunwayML) -> None:
        response = client.image_to_video.with_raw_response.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    def test_streaming_response_create_overload_25(self, client: RunwayML) -> None:
        with client.image_to_video.with_streaming_response.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True


class TestAsyncImageToVideo:
    parametrize = pytest.mark.parametrize(
        "async_client", [False, True, {"http_client": "aiohttp"}], indirect=True, ids=["loose", "strict", "aiohttp"]
    )

    @parametrize
    async def test_method_create_overload_1(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_1(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
            content_moderation={"public_figure_threshold": "auto"},
            output_format="mp4",
            prores_profile="422",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_1(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_1(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            duration=2,
            model="gen4.5",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_2(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_2(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            content_moderation={"public_figure_threshold": "auto"},
            duration=2,
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_2(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_2(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="gen4_turbo",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_3(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_3(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            audio=True,
            duration=4,
            negative_prompt="x",
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_3(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_3(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="veo3.1",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_4(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_4(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
            audio=True,
            duration=4,
            negative_prompt="x",
            prompt_text="x",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_4(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_4(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="veo3.1_fast",
            prompt_image="https://example.com/image.jpg",
            ratio="1280:720",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_5(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_5(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="3840:2160",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_5(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_5(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="klingO3_4k",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_6(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_6(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration=5,
            ratio="adaptive",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            resolution="2k",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_6(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_6(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="hailuo3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_7(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_7(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="3840:2160",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_7(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_7(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="kling3.0_4k",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_8(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_8(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="xx",
            resolution="720p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_8(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_8(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="happyhorse_1_0",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_9(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_9(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
            cfg_scale=0,
            duration=5,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_9(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_9(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="kling2.5_turbo_pro",
            prompt_image="https://example.com/image.jpg",
            prompt_text="xx",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_10(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_10(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1920:1080",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_10(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_10(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="kling3.0_pro",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_11(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_11(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            cfg_scale=0,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_11(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_11(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="kling3.0_standard",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_12(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_12(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1920:1080",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_12(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_12(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="klingO3_pro",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_13(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_13(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration=3,
            prompt_text="xx",
            provider_settings={
                "multi_prompt": [
                    {
                        "duration": 1,
                        "prompt": "xxx",
                    }
                ],
                "shot_type": "intelligence",
            },
            ratio="1280:720",
            references="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_13(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_13(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="klingO3_standard",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_14(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_14(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_14(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_14(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="seedance2",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_15(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_15(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_15(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_15(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="seedance2_fast",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_16(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_16(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            duration="auto",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_16(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_16(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="seedance2_mini",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_17(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_17(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="x",
            ratio="1280:720",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_17(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_17(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="gemini_omni_flash",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_18(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_18(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
            duration=1,
            prompt_text="x",
            resolution="480p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_18(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_18(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="grok_imagine_1_5",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_19(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_19(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            audio=True,
            duration=2,
            ratio="832:480",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            reference_videos=[
                {
                    "type": "video",
                    "uri": "https://example.com/video.mp4",
                }
            ],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_19(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_19(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="wan3",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_20(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_20(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration="auto",
            ratio="640:360",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_20(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_20(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="gemini_omni_flash_1.1",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_21(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_21(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            audio=True,
            duration=2,
            ratio="832:480",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            reference_videos=[
                {
                    "type": "video",
                    "uri": "https://example.com/video.mp4",
                }
            ],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_21(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_21(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="wan3_prime",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_22(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_22(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
            duration=5,
            prompt_expansion_mode="disabled",
            resolution="768p",
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_22(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_22(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="h3_max",
            prompt_image="https://example.com/image.jpg",
            prompt_text="x",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_23(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_23(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
            audio=True,
            draft=True,
            duration="auto",
            output_format="mp4",
            prompt_text="x",
            ratio="992:432",
            reference_audio=[
                {
                    "type": "audio",
                    "uri": "https://example.com/audio.mp3",
                }
            ],
            seed=0,
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_23(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_23(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="seedance2_5",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_24(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_24(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
            duration=1,
            prompt_text="x",
            ratio="auto_480p",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_24(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_24(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="grok_imagine_1_5_lite",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True

    @parametrize
    async def test_method_create_overload_25(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_method_create_with_all_params_overload_25(self, async_client: AsyncRunwayML) -> None:
        image_to_video = await async_client.image_to_video.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
            duration=3,
            prompt_text="x",
            ratio="auto_720p",
            references=[{"uri": "https://example.com/image.jpg"}],
            reference_videos=[{}],
        )
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_raw_response_create_overload_25(self, async_client: AsyncRunwayML) -> None:
        response = await async_client.image_to_video.with_raw_response.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        )

        assert response.is_closed is True
        assert response.http_request.headers.get("X-Stainless-Lang") == "python"
        image_to_video = await response.parse()
        assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

    @parametrize
    async def test_streaming_response_create_overload_25(self, async_client: AsyncRunwayML) -> None:
        async with async_client.image_to_video.with_streaming_response.create(
            model="kling_4",
            prompt_image="https://example.com/image.jpg",
        ) as response:
            assert not response.is_closed
            assert response.http_request.headers.get("X-Stainless-Lang") == "python"

            image_to_video = await response.parse()
            assert_matches_type(ImageToVideoCreateResponse, image_to_video, path=["response"])

        assert cast(Any, response.is_closed) is True
