"""``prefect-runway submit --endpoint NAME``: every task endpoint from the command line, once
only, against the emulator over loopback."""

from __future__ import annotations

import io
import json

import pytest

from prefect_runway.cli import main
from prefect_runway.testing.emulator.mp4 import build_mp4
from prefect_runway.testing.emulator.samples import WAV, png
from tests._support import BUCKET
from tests._support.endpoints import first_bodies

BODIES = first_bodies()
FAST = ["--poll-interval", "0.05", "--timeout", "20"]


@pytest.fixture
def emu(make_emulator):
    """An emulator that the CLI finds through the environment; URLs are not fetched."""
    return make_emulator(env=True, fetch_urls=False, generation_seconds=0.2)


def fields(body: dict) -> list[str]:
    """`body` as ``--field`` options, each value as JSON."""
    return [arg for key, value in body.items() for arg in ("--field", f"{key}={json.dumps(value)}")]


def submitted(out: str) -> list[str]:
    [line] = out.splitlines()
    return line.split("\t")


def test_text_to_video_from_the_common_options_then_a_rerun_pays_nothing(emu, capsys):
    args = ["submit", "--endpoint", "text_to_video", "--model", "veo3.1_fast",
            "--prompt-text", "a red kite over the sea", "--ratio", "1280:720",
            "--duration", "4", "--seed", "7"]  # fmt: skip
    assert main(args) == 0
    out, err = capsys.readouterr()
    source, task_id, status, duration, _ = submitted(out)
    assert (source, status, duration) == ("text_to_video:veo3.1_fast", "submitted", "4s")
    assert err == ""
    [task] = emu.tasks()
    assert task["id"] == task_id
    assert task["body"] == {"model": "veo3.1_fast", "promptText": "a red kite over the sea",
                            "ratio": "1280:720", "duration": 4, "seed": 7}  # fmt: skip

    assert main(args) == 0
    again = submitted(capsys.readouterr().out)
    assert again[1:3] == [task_id, "cached"]
    assert emu.stats()["posts"] == 1


def test_video_to_video_from_a_body_file_and_fields(emu, tmp_path, capsys):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"model": "aleph2", "video_uri": BODIES["video_to_video"]
                                ["videoUri"]}))  # fmt: skip
    args = ["submit", "--endpoint", "video_to_video", "--body", str(body),
            "--prompt-text", "make it snow", "--field", "seed=3"]  # fmt: skip
    assert main(args) == 0
    [task] = emu.tasks()
    assert task["body"]["videoUri"] == "https://media.example.com/clip.mp4"
    assert task["body"]["promptText"] == "make it snow" and task["body"]["seed"] == 3
    assert submitted(capsys.readouterr().out)[2] == "submitted"
    assert main(args) == 0 and emu.stats()["posts"] == 1


def test_text_to_image_with_a_local_reference_image(emu, tmp_path, capsys):
    still = tmp_path / "still.png"
    still.write_bytes(png(8, 8))
    args = ["submit", "--endpoint", "text_to_image", "--model", "gen4_image_turbo",
            "--prompt-text", "a lighthouse at dusk", "--ratio", "1024:1024",
            "--field", f"reference_images.0.uri={still}"]  # fmt: skip
    assert main(args) == 0
    [task] = emu.tasks()
    sent = task["body"]["referenceImages"][0]["uri"]
    assert sent.startswith("data:image/png;base64,")  # a plain path, read and sent inline
    capsys.readouterr()

    assert main(args) == 0
    assert submitted(capsys.readouterr().out)[2] == "cached"
    still.write_bytes(png(9, 9))  # other bytes: another generation
    assert main(args) == 0
    assert submitted(capsys.readouterr().out)[2] == "submitted"
    assert emu.stats()["posts"] == 2


def test_an_audio_endpoint_from_stdin(emu, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(BODIES["text_to_speech"])))
    assert main(["submit", "--endpoint", "text_to_speech", "--body", "-", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["endpoint"] == "text_to_speech" and record["status"] == "submitted"
    assert [t["id"] for t in emu.tasks()] == [record["id"]]


def test_a_recipe_waits_and_prints_its_outputs(emu, capsys):
    args = ["submit", "--endpoint", "recipes/multi_shot_video",
            *fields(BODIES["recipes/multi_shot_video"]), "--wait", *FAST]  # fmt: skip
    assert main(args) == 0
    out, err = capsys.readouterr()
    first, final = out.splitlines()
    task_id = first.split("\t")[1]
    assert final.split("\t")[:2] == [task_id, "SUCCEEDED"]
    assert final.split("\t")[2].startswith(emu.base_url)  # the output URL, in full
    assert err.splitlines()[-1] == f"{task_id}\tSUCCEEDED"
    [task] = emu.tasks()
    assert task["body"]["mode"] == "auto" and emu.stats()["posts"] == 1


def test_the_model_router_takes_prompt_text_into_its_input(emu, capsys):
    args = ["submit", "--endpoint", "generate/video", "--field", "configId=cfg_1",
            "--prompt-text", "a kite", "--field", "input.resolution=720p",
            "--duration", "5"]  # fmt: skip
    assert main(args) == 0
    [task] = emu.tasks()
    assert task["body"] == {"configId": "cfg_1",
                            "input": {"promptText": "a kite", "resolution": "720p",
                                      "duration": 5}}  # fmt: skip
    assert submitted(capsys.readouterr().out)[0] == "generate/video:router"
    assert main(args) == 0 and emu.stats()["posts"] == 1


def test_dry_run_posts_nothing_and_reads_the_ledger(emu, capsys):
    args = ["submit", "--endpoint", "sound_effect", *fields(BODIES["sound_effect"])]
    assert main([*args, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out == "sound_effect:seed_audio\twould submit\t-\tprice unknown\n"
    assert err == ("dry run: 1 of 1 would be paid, an unknown number of credits; "
                   "nothing was sent\n")  # fmt: skip
    assert emu.stats()["posts"] == 0

    assert main(args) == 0
    task_id = submitted(capsys.readouterr().out)[1]
    assert main([*args, "--dry-run", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "cached" and record["id"] == task_id
    assert record["estimated_credits"] == 0 and emu.stats()["posts"] == 1


def test_a_misspelt_field_is_named_and_nothing_is_sent(emu, capsys):
    args = ["submit", "--endpoint", "text_to_video", *fields(BODIES["text_to_video"]),
            "--field", "promt_text=oops"]  # fmt: skip
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: text_to_video: 'promtText' (did you mean 'promptText'?) is no field of model "
        "gen4.5; its fields: contentModeration, duration, model, outputFormat, promptText, "
        "proresProfile, ratio, seed\n"
    )
    assert emu.stats()["posts"] == 0


GEN45 = ["--field", "model=gen4.5", "--field", "duration=5"]


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--field", "model=gen4.5", "--field", "duration=60"], 1,
         "text_to_video: duration 60 is out of range for model gen4.5; expected 2 to 10"),
        ([*GEN45, "--field", "contentModeration.publicFigureThreshold=high"], 1,
         "text_to_video: contentModeration.publicFigureThreshold 'high' is not supported by "
         "model gen4.5; expected one of auto, low"),
        (["--field", "model=gen5"], 1,
         "text_to_video: model 'gen5' is not supported by text_to_video; expected one of "),
        ([*GEN45, "--field", "ratio=1280:720"], 2,
         "ratio is given twice (--ratio and --field ratio)"),
        ([*GEN45, "--seed", "1", "--field", "seed=2"], 2,
         "seed is given twice (--seed and --field seed)"),
        ([*GEN45, "--field", "seed"], 2, "--field 'seed': give NAME=VALUE"),
        ([*GEN45, "cat.png"], 2, "IMAGE_OR_URL arguments are for image_to_video"),
        ([*GEN45, "--seed", "1", "--field", "seed.0=1"], 2, "seed.0: seed is not a list"),
    ],
    ids=["range", "nested-enum", "model", "twice", "option-and-field", "no-value", "positional",
         "not-a-list"],
)  # fmt: skip
def test_bad_values_are_one_line_and_nothing_is_sent(emu, capsys, extra, code, message):
    args = ["submit", "--endpoint", "text_to_video", "--prompt-text", "a kite",
            "--ratio", "1280:720", *extra]  # fmt: skip
    assert main(args) == code
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: " + message), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and emu.stats()["posts"] == 0


def test_an_option_the_endpoint_has_not_is_refused(emu, capsys):
    args = ["submit", "--endpoint", "recipes/marketing_stock_image", "--ratio", "1280:720",
            *fields(BODIES["recipes/marketing_stock_image"])]  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "error: --ratio: recipes/marketing_stock_image has no ratio field; see its fields with "
        "--endpoint recipes/marketing_stock_image --list-fields\n"
    )
    assert emu.stats()["posts"] == 0


def test_an_unknown_endpoint_suggests_the_close_ones(emu, capsys):
    assert main(["submit", "--endpoint", "text-to-vidoe", "--field", "a=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: endpoint 'text-to-vidoe' is not a Runway task endpoint (SDK 5.24.0). Did you "
        "mean text_to_video"
    )
    assert len(err.splitlines()) == 1 and emu.stats()["posts"] == 0


def test_a_missing_local_file_is_named(emu, tmp_path, capsys):
    gone = tmp_path / "gone.mp4"
    assert main(["submit", "--endpoint", "video_upscale", "--model",
                 "magnific_video_upscaler_creative", "--field", f"videoUri={gone}"]) == 1
    assert capsys.readouterr().err == (
        f"error: videoUri: '{gone}' is neither a file nor a URI (https://, data:, runway://, "
        "s3://, file://)\n"
    )  # fmt: skip
    assert emu.stats()["posts"] == 0


def test_list_fields_shows_variants_types_and_allowed_values(capsys):
    assert main(["submit", "--endpoint", "text_to_video", "--list-fields"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "text_to_video: POST /v1/text_to_video, output video; the variant is "\
        "chosen by model"  # fmt: skip
    assert "model=gen4.5" in lines and "model=veo3.1_fast" in lines
    gen45 = lines[lines.index("model=gen4.5") + 1 : lines.index("model=veo3.1")]
    assert [line.split()[:2] for line in gen45[:3]] == [
        ["contentModeration", "optional"],
        ["contentModeration.publicFigureThreshold", "optional"],
        ["duration", "required"],
    ]
    assert gen45[1].endswith("one of auto, low") and gen45[2].endswith("integer 2..10")
    assert any(line.split()[0] == "ratio" and line.endswith("one of 1280:720, 720:1280")
               for line in gen45)  # fmt: skip

    assert main(["submit", "--endpoint", "video_to_video", "--list-fields", "--model",
                 "aleph2", "--json"]) == 0  # fmt: skip
    listed = json.loads(capsys.readouterr().out)
    assert list(listed["variants"]) == ["aleph2"] and listed["selector"] == "model"
    assert listed["variants"]["aleph2"]["videoUri"]["required"] is True

    assert main(["submit", "--endpoint", "text_to_video", "--list-fields", "--model",
                 "veo3_fast"]) == 1  # fmt: skip
    assert capsys.readouterr().err.startswith(
        "error: text_to_video has no model 'veo3_fast'. Did you mean veo3.1_fast"
    )


def test_an_s3_input_is_keyed_by_its_etag(emu, s3, capsys):
    s3.put_object(Bucket=BUCKET, Key="clips/a.mp4", Body=build_mp4(2), ContentType="video/mp4")
    args = ["submit", "--endpoint", "video_to_video", "--model", "aleph2",
            "--field", f"videoUri=s3://{BUCKET}/clips/a.mp4"]  # fmt: skip
    assert main([*args, "--dry-run"]) == 0
    assert "would submit" in capsys.readouterr().out and emu.stats()["posts"] == 0

    assert main(args) == 0
    [task] = emu.tasks()
    assert not task["body"]["videoUri"].startswith("s3://")  # resolved before it was sent
    assert main(args) == 0
    assert [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()] == [
        "submitted", "cached"]  # fmt: skip
    assert emu.stats()["posts"] == 1

    s3.put_object(Bucket=BUCKET, Key="clips/a.mp4", Body=build_mp4(3), ContentType="video/mp4")
    assert main(args) == 0  # a new ETag: another generation
    assert submitted(capsys.readouterr().out)[2] == "submitted" and emu.stats()["posts"] == 2


def test_a_local_audio_file_and_a_file_uri_are_one_input(emu, tmp_path, capsys):
    voice = tmp_path / "voice.wav"
    voice.write_bytes(WAV)
    base = ["submit", "--endpoint", "voice_isolation", "--model", "eleven_voice_isolation"]
    assert main([*base, "--field", f"audio_uri={voice}"]) == 0
    [task] = emu.tasks()
    assert task["body"]["audioUri"].startswith("data:audio/")
    assert main([*base, "--field", f"audioUri={voice.as_uri()}"]) == 0
    outcomes = [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()]
    assert outcomes == ["submitted", "cached"] and emu.stats()["posts"] == 1


def test_image_to_video_without_an_endpoint_is_unchanged(emu, tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(png(4, 4))
    assert main(["submit", str(image)]) == 0
    [task] = emu.tasks()
    assert (task["body"]["model"], task["body"]["ratio"], task["body"]["duration"]) == (
        "gen4_turbo", "1280:720", 5)  # the defaults, as before  # fmt: skip
    assert capsys.readouterr().out == f"{image}\t{task['id']}\tsubmitted\t5s\t~25 credits\n"

    # the same image through the generic path is the same record: nothing is paid again
    args = ["submit", "--endpoint", "image_to_video", "--field", f"promptImage={image}",
            "--model", "gen4_turbo", "--ratio", "1280:720", "--duration", "5"]  # fmt: skip
    assert main(args) == 0
    assert submitted(capsys.readouterr().out)[1:3] == [task["id"], "cached"]
    assert emu.stats()["posts"] == 1


def test_no_image_and_no_endpoint_is_bad_usage(capsys):
    assert main(["submit"]) == 2
    assert capsys.readouterr().err.startswith("error: give at least one IMAGE_OR_URL")


def test_as_a_program_a_bad_field_is_one_line_without_a_traceback(emu, tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "prefect_runway.cli", "submit", "--endpoint", "text_to_image",
         "--model", "gen4_image", "--prompt-text", "a kite", "--field", "ratio=1:1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: text_to_image: ratio '1:1' is not supported by "
                                    "model gen4_image; expected one of ")  # fmt: skip
    assert len(result.stderr.splitlines()) == 1 and emu.stats()["posts"] == 0


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_every_endpoint_submits_once_from_a_body_file(emu, tmp_path, capsys, endpoint):
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODIES[endpoint]))
    args = ["submit", "--endpoint", endpoint, "--body", str(body)]
    assert main(args) == 0
    first = submitted(capsys.readouterr().out)
    assert first[2] == "submitted" and [t["id"] for t in emu.tasks()] == [first[1]]
    assert main(args) == 0
    assert submitted(capsys.readouterr().out)[1:3] == [first[1], "cached"]
    assert emu.stats()["posts"] == 1
