"""The ``prefect-runway`` command against the emulator over real loopback HTTP."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials, cli
from prefect_runway.api.client import RunwayClient
from prefect_runway.api.models import Task
from prefect_runway.cli import main
from prefect_runway.testing.emulator import Emulator, Faults
from prefect_runway.testing.emulator.samples import png
from tests.conftest import API_KEY

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAGCAIAAABvrngfAAAAKklEQVR42mP4HxUFRCe4uOCIASKELMoAxGiiDBAKWZQBrh4uyoBsMEQIAPuBLGHw9EwnAAAAAElFTkSuQmCC"  # noqa: E501
PNG = base64.b64decode(PNG_B64)
PNG_URI = f"data:image/png;base64,{PNG_B64}"
GEN = ["--model", "gen4_turbo", "--ratio", "1280:720", "--duration", "5"]
FAST = ["--poll-interval", "0.05", "--timeout", "10"]
GEN4_RATIOS = "1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672"


@pytest.fixture
def env(emulator, monkeypatch):
    """Point the CLI at the emulator through the environment, as a user would."""
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    return emulator


def lines(text: str) -> list[str]:
    return text.splitlines()


def submit_one(emu: Emulator) -> str:
    with RunwayClient(API_KEY, base_url=emu.base_url) as client:
        from prefect_runway.api.models import ImageToVideoRequest

        request = ImageToVideoRequest(prompt_image=PNG_URI, model="gen4_turbo", ratio="1280:720")
        return client.image_to_video(request).id


def test_submit_a_png_file_and_a_data_uri(env, tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(png(4, 4))
    file_uri = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()

    assert main(["submit", str(image), PNG_URI, *GEN]) == 0

    out, err = capsys.readouterr()
    assert err == ""
    [first, second] = [line.split("\t") for line in lines(out)]
    assert first[0] == str(image)
    assert second[0] == f"data:image/png;base64,<{len(PNG_B64)} chars>"
    assert first[2:] == second[2:] == ["submitted", "5s", "~25 credits"]
    tasks = {task["id"]: task for task in env.tasks()}
    assert set(tasks) == {first[1], second[1]}
    assert env.stats()["tasks_created"] == 2
    assert tasks[first[1]]["body"]["promptImage"] == file_uri  # the file, sent inline
    assert tasks[first[1]]["body"]["duration"] == 5


def test_the_same_file_twice_is_paid_once_unless_resubmitted(env, tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(png(5, 5))
    same_bytes = tmp_path / "copy-of-cat.png"
    same_bytes.write_bytes(png(5, 5))

    assert main(["submit", str(image), *GEN]) == 0
    assert main(["submit", str(image), str(same_bytes), *GEN]) == 0
    [first, again, copy] = [line.split("\t") for line in lines(capsys.readouterr().out)]
    assert first[2] == "submitted" and again[2] == copy[2] == "cached"
    assert first[1] == again[1] == copy[1]
    assert env.stats()["posts"] == 1

    assert main(["submit", str(image), *GEN, "--resubmit"]) == 0
    [paid_again] = [line.split("\t") for line in lines(capsys.readouterr().out)]
    assert paid_again[2] == "submitted" and paid_again[1] != first[1]
    assert env.stats()["posts"] == 2


def test_json_output_is_one_object_per_line(env, capsys):
    assert main(["submit", PNG_URI, PNG_URI, *GEN, "--seed", "7", "--json"]) == 0
    records = [json.loads(line) for line in lines(capsys.readouterr().out)]
    assert [r["estimated_credits"] for r in records] == [25, 25]
    assert {r["id"] for r in records} == {t["id"] for t in env.tasks()}
    assert all(t["body"]["seed"] == 7 for t in env.tasks())


def test_a_gif_fails_alone_and_the_others_still_go(env, tmp_path, capsys):
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    text = tmp_path / "notes.png"
    text.write_bytes(b"just some text")

    assert main(["submit", str(gif), PNG_URI, str(text), str(tmp_path / "gone.png"), *GEN]) == 1

    out, err = capsys.readouterr()
    assert lines(err)[:2] == [
        f"error: {gif} is a GIF; Runway accepts JPEG, PNG or WebP",
        f"error: {text} is not a JPEG, PNG or WebP image (its bytes match none of them)",
    ]
    assert lines(err)[2].startswith(f"error: {tmp_path / 'gone.png'}: cannot read the file")
    assert len(lines(out)) == 1 and lines(out)[0].startswith("data:image/png")
    assert env.stats()["posts"] == 1


def test_an_unsupported_ratio_is_one_clean_line_and_nothing_is_posted(env, capsys):
    code = main(["submit", PNG_URI, "--model", "gen4_turbo", "--ratio", "1280:768"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == (
        f"error: ratio '1280:768' is not supported by gen4_turbo; use one of {GEN4_RATIOS}\n"
    )
    assert env.stats()["posts"] == 0


def test_a_bad_url_is_refused_locally_without_its_query_string(env, capsys):
    url = "http://images.example.com/cat.png?X-Amz-Signature=topsecret"
    assert main(["submit", url, *GEN]) == 1
    out, err = capsys.readouterr()
    assert err == (
        "error: http://images.example.com/cat.png?<redacted>: prompt_image "
        "'http://images.example.com/cat.png?<redacted>' must be an https:// URL, a "
        "data:image/...;base64 URI or a runway:// upload URI (got scheme 'http')\n"
    )
    assert "topsecret" not in out + err and env.stats()["posts"] == 0


def test_an_https_url_is_sent_whole_but_shown_redacted(monkeypatch, capsys):
    with Emulator(api_key=API_KEY, fetch_urls=False) as emu:
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        url = "https://images.example.com/cat.png?X-Amz-Signature=topsecret"
        assert main(["submit", url, *GEN, "--base-url", emu.base_url]) == 0
        [task] = emu.tasks()
    out, err = capsys.readouterr()
    assert out == (
        f"https://images.example.com/cat.png?<redacted>\t{task['id']}\tsubmitted\t5s\t~25 credits\n"
    )
    assert task["body"]["promptImage"] == url
    assert "topsecret" not in out + err


def test_a_large_file_is_uploaded_with_the_official_dialect(env, tmp_path, capsys):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * (4 * 1024 * 1024))  # its data URI would pass 5 MB

    assert main(["submit", str(big), *GEN]) == 0

    [task] = env.tasks()
    assert task["body"]["promptImage"].startswith("runway://")
    assert env.stats()["uploads"] == 1
    assert capsys.readouterr().out == f"{big}\t{task['id']}\tsubmitted\t5s\t~25 credits\n"


def test_a_large_file_is_refused_for_the_proxy_dialect(
    proxy_emulator, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * (4 * 1024 * 1024))
    args = ["submit", str(big), *GEN, "--base-url", proxy_emulator.base_url]
    assert main([*args, "--dialect", "proxy"]) == 1
    assert capsys.readouterr().err == (
        f"error: {big}: {big.stat().st_size} bytes is too large for a 5 MB data URI, and the "
        "proxy dialect has no uploads; pass an https:// URL of the image instead\n"
    )
    assert proxy_emulator.stats()["posts"] == 0


def test_block_credentials_are_used(emulator, monkeypatch, capsys):
    loaded = []

    def load(name: str) -> RunwayCredentials:
        loaded.append(name)
        return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emulator.base_url)

    monkeypatch.setattr(RunwayCredentials, "load", load)
    assert main(["submit", PNG_URI, *GEN, "--block", "runway-prod"]) == 0
    assert loaded == ["runway-prod"] and emulator.stats()["tasks_created"] == 1


def test_a_missing_block_is_a_clean_error(monkeypatch, capsys):
    def load(name: str) -> RunwayCredentials:
        raise ValueError(f"Unable to find block document named {name}")

    monkeypatch.setattr(RunwayCredentials, "load", load)
    assert main(["status", "t1", "--block", "nope"]) == 1
    assert capsys.readouterr().err == (
        "error: cannot load the block 'nope': Unable to find block document named nope\n"
    )


def test_submit_wait_reaches_succeeded(env, capsys):
    assert main(["submit", PNG_URI, *GEN, "--wait", *FAST]) == 0

    out, err = capsys.readouterr()
    [submitted, final] = lines(out)
    task_id = submitted.split("\t")[1]
    fields = final.split("\t")
    assert fields[:2] == [task_id, "SUCCEEDED"]
    assert fields[2].startswith(env.base_url) and ".mp4" in fields[2]  # output URL in full
    # stderr is not a TTY here: one line per status change, no bar
    assert lines(err)[-1] == f"{task_id}\tSUCCEEDED"
    assert "\r" not in err and len(set(lines(err))) == len(lines(err))


def test_status_of_a_cancelled_task_exits_1(monkeypatch, capsys):
    # Long generations: DELETE cancels a running task, and deletes one that already ended.
    with Emulator(api_key=API_KEY, generation_seconds=600) as env:
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        monkeypatch.setenv("RUNWAYML_BASE_URL", env.base_url)
        task_id = submit_one(env)
        with RunwayClient(API_KEY, base_url=env.base_url) as client:
            client.cancel_task(task_id)
            assert client.get_task(task_id).status == "CANCELLED"
        check_cancelled_status(task_id, capsys)


def check_cancelled_status(task_id: str, capsys) -> None:

    assert main(["status", task_id]) == 1
    out, err = capsys.readouterr()
    assert out == f"{task_id}\tCANCELLED\n", err
    assert "CANCELLED" in err

    assert main(["status", task_id, "--wait", *FAST]) == 1
    out, err = capsys.readouterr()
    assert out == f"{task_id}\tCANCELLED\n"
    assert f"error: Task {task_id} was cancelled." in err


def test_status_wait_for_several_tasks_reports_each(monkeypatch, capsys):
    faults = Faults(rate_task_failure=1.0, failure_code="SAFETY.INPUT.IMAGE")
    with Emulator(api_key=API_KEY, generation_seconds=0.2, faults=faults) as emu:
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
        failed = submit_one(emu)
        emu.set_faults(Faults())
        good = submit_one(emu)
        assert main(["status", failed, good, "--wait", *FAST, "--json"]) == 1
    records = {r["id"]: r for r in map(json.loads, lines(capsys.readouterr().out))}
    assert records[good]["status"] == "SUCCEEDED" and records[good]["output"]
    assert records[failed]["status"] == "FAILED"
    assert records[failed]["failure_code"] == "SAFETY.INPUT.IMAGE"
    assert "error" in records[failed] and "error" not in records[good]


def test_status_of_a_succeeded_task_exits_0(env, capsys):
    task_id = submit_one(env)
    assert main(["status", task_id, "--wait", *FAST]) == 0
    assert capsys.readouterr().out.startswith(f"{task_id}\tSUCCEEDED\t{env.base_url}")


def test_a_wrong_key_prints_one_error_without_the_key(env, monkeypatch, capsys):
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_wrong_secret_value")
    assert main(["submit", PNG_URI, PNG_URI, *GEN]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and len(lines(err)) == 1
    assert "401" in err and "key_wrong_secret_value" not in err and "Traceback" not in err
    assert env.stats()["tasks_created"] == 0

    assert main(["status", "some-task"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "key_wrong_secret_value" not in err


def test_a_missing_key_is_a_clean_error(emulator, monkeypatch, capsys):
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    assert main(["status", "some-task"]) == 1
    assert capsys.readouterr().err.startswith("error: No Runway API key")


def test_ctrl_c_exits_130_quietly(env, monkeypatch, capsys):
    def interrupted(*args: object) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_status_all", interrupted)
    assert main(["status", "some-task"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_progress_bar_redraws_in_place_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = cli._Progress(stream, ["a", "b"])
    progress.update(Task(id="a", status="RUNNING", progress=0.5))
    progress.update(Task(id="b", status="SUCCEEDED"))
    progress.close()
    frames = stream.getvalue().split("\r")
    assert frames[1].startswith("[" + "-" * 30 + "]   0%  0/2 finished")
    assert frames[2].startswith("[" + "#" * 8 + "-" * 22 + "]  25%  0/2 finished")
    assert frames[3].startswith("[" + "#" * 22 + "-" * 8 + "]  75%  1/2 finished")
    assert frames[-2].strip() == "" and frames[-1] == ""  # erased at the end
    assert "\n" not in stream.getvalue()


def test_emulator_help_is_the_emulators(capsys):
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: prefect-runway emulator") and "--generation-seconds" in out


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["status", "t1", "--api-key", "x"])  # the key is never a flag
    assert info.value.code == 2


def test_runs_as_a_program(env):
    task_id = submit_one(env)
    result = subprocess.run(
        [sys.executable, "-m", "prefect_runway.cli", "status", task_id, "--wait", *FAST, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["id"] == task_id and record["status"] == "SUCCEEDED"
    assert "Traceback" not in result.stderr and API_KEY not in result.stdout + result.stderr
