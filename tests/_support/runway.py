"""Runway clients pointed at an emulator, and a sample request."""

from __future__ import annotations

from prefect_runway import AsyncRunwayClient, ImageToVideoRequest, RunwayClient
from tests._support import API_KEY

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="  # noqa: E501


def request(**fields):
    return ImageToVideoRequest(
        **{"prompt_image": PNG, "model": "gen4_turbo", "ratio": "1280:720", "duration": 5,
           **fields}
    )


def client_for(emu, **kwargs):
    options = {"base_url": emu.base_url, "dialect": emu.dialect, "poll_interval": 0.05,
               "backoff_base": 0.01, **kwargs}
    return RunwayClient(API_KEY, **options)


def async_client_for(emu, **kwargs):
    options = {"base_url": emu.base_url, "dialect": emu.dialect, "poll_interval": 0.05,
               "backoff_base": 0.01, **kwargs}
    return AsyncRunwayClient(API_KEY, **options)
