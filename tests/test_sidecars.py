"""Sidecar prompts in the S3 prefix flow: ``cat.txt`` / ``cat.json`` beside ``cat.png`` give
that image's fields, against moto's S3 server and the emulator."""

from __future__ import annotations

import asyncio
import importlib
import json
import random

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from prefect_runway.errors import BatchFailedError
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.s3.objects import S3Image, image_pages, iter_s3_pages
from prefect_runway.testing.emulator.samples import png
from tests.conftest import BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")

flow_module = importlib.import_module("prefect_runway.flows.s3_image_to_video")  # not the flow


def run(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "in/", concurrency=4, **kwargs))


def put(s3, key, body):
    s3.put_object(Bucket=BUCKET, Key=f"in/{key}", Body=body)


def uri(key):
    return f"s3://{BUCKET}/in/{key}"


def bodies(runway, result):
    """The request body the emulator got, by source."""
    by_id = {task["id"]: task["body"] for task in runway.tasks()}
    return {row.source: by_id[row.task_id] for row in result.rows if row.task_id}


def test_txt_sidecar_is_the_prompt_and_not_a_row(s3, runway):
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.txt", b"  a cat on a roof\n")
    put(s3, "dog.png", png(8, 8, (4, 5, 6)))
    result = run(prompt_text="a default prompt")
    assert [row.source for row in result.rows] == [uri("cat.png"), uri("dog.png")]
    assert (result.submitted, result.rejected) == (2, 0)
    sent = bodies(runway, result)
    assert sent[uri("cat.png")]["promptText"] == "a cat on a roof"
    assert sent[uri("dog.png")]["promptText"] == "a default prompt"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="in/runway-manifest.json")["Body"]
                          .read())
    assert "cat.txt" not in json.dumps(manifest["rows"])


def test_json_sidecar_fields_override_the_flow_settings(s3, runway):
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.json", json.dumps({"promptText": "json cat", "seed": 7, "duration": 10}))
    put(s3, "dog.png", png(8, 8, (4, 5, 6)))
    put(s3, "dog.json", json.dumps({"prompt_text": "snake dog", "ratio": "720:1280"}))
    put(s3, "dog.txt", b"")  # empty: no prompt from it
    result = run(prompt_text="default", seed=1)
    rows = {row.source: row for row in result.rows}
    assert list(rows) == [uri("cat.png"), uri("dog.png")] and result.submitted == 2
    assert (rows[uri("cat.png")].seed, rows[uri("cat.png")].duration) == (7, 10)
    assert rows[uri("cat.png")].estimated_credits == 50  # gen4_turbo: 5 credits a second
    sent = bodies(runway, result)
    assert {k: sent[uri("cat.png")][k] for k in ("promptText", "seed", "duration", "ratio")} == {
        "promptText": "json cat", "seed": 7, "duration": 10, "ratio": "1280:720"}
    assert {k: sent[uri("dog.png")][k] for k in ("promptText", "seed", "duration", "ratio")} == {
        "promptText": "snake dog", "seed": 1, "duration": 5, "ratio": "720:1280"}


def test_stray_text_and_json_without_an_image_are_still_rejected(s3, runway):
    put(s3, "notes.txt", b"just some text")
    put(s3, "lone.json", b'{"seed": 1}')
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    result = run()
    errors = {row.source: row.error for row in result.rows if row.status == "rejected"}
    assert errors == {
        uri(k): f"{uri(k)} is not a JPEG, PNG or WebP image (its bytes match none of them)"
        for k in ("lone.json", "notes.txt")
    }
    assert result.submitted == 1 and runway.stats()["posts"] == 1


def test_a_bad_sidecar_rejects_only_its_image(s3, runway):
    for name in ("a", "b", "c", "d", "e", "ok"):
        put(s3, f"{name}.png", png(8, 8, (ord(name[0]), 2, 3)))
    put(s3, "a.json", b"{nope")
    put(s3, "b.json", json.dumps({"fooBar": 1}))
    put(s3, "c.json", json.dumps({"duration": 11}))
    put(s3, "d.txt", ("x" * 1001).encode())
    put(s3, "e.json", json.dumps({"promptText": "one"}))
    put(s3, "e.txt", b"two")
    result = run(fail_on_errors=True)  # rejections do not fail the run
    errors = {row.source: row.error for row in result.rows if row.status == "rejected"}
    assert errors == {
        uri("a.png"): f"{uri('a.json')} is not valid JSON (Expecting property name enclosed in "
                      f"double quotes: line 1 column 2 (char 1)); {uri('a.png')} was not "
                      "submitted",
        uri("b.png"): f"{uri('b.json')}: field 'fooBar' is not an image_to_video field (the "
                      "image is the object itself; fields are promptText, seed, duration, "
                      "ratio, ... in camelCase or snake_case); "
                      f"{uri('b.png')} was not submitted",
        uri("c.png"): f"{uri('c.json')}: duration 11 is not supported by gen4_turbo; use an "
                      f"integer from 2 to 10; {uri('c.png')} was not submitted",
        uri("d.png"): f"{uri('d.txt')}: prompt_text is 1001 UTF-16 code units long; gen4_turbo "
                      "accepts at most 1000 (emoji and other astral characters count as 2); "
                      f"{uri('d.png')} was not submitted",
        uri("e.png"): f"{uri('e.json')} and {uri('e.txt')} both give prompt_text; "
                      f"{uri('e.png')} was not submitted",
    }
    assert result.submitted == 1 and runway.stats()["posts"] == 1
    put(s3, "c.json", json.dumps({"duration": 10}))  # fixed: not remembered as rejected
    again = run()
    assert again.submitted == 1 and again.cached == 1 and runway.stats()["posts"] == 2


def test_an_edited_sidecar_pays_again_an_unchanged_rerun_pays_nothing(s3, runway):
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.txt", b"a cat")
    put(s3, "dog.png", png(8, 8, (4, 5, 6)))
    first = run()
    assert first.submitted == 2 and runway.stats()["posts"] == 2
    rerun = run(budget_credits=0)  # the plan counts nothing new: the budget holds
    assert (rerun.submitted, rerun.cached) == (0, 2) and runway.stats()["posts"] == 2
    put(s3, "cat.txt", b"a cat, running")
    with pytest.raises(Exception, match=r"Estimated cost 25 credits"):
        run(budget_credits=10)  # the plan counts the edited sidecar's image, and only it
    edited = run()
    assert (edited.submitted, edited.cached) == (1, 1) and runway.stats()["posts"] == 3
    assert bodies(runway, edited)[uri("cat.png")]["promptText"] == "a cat, running"
    assert runway.stats()["posts"] == 3 and run().submitted == 0


def test_plan_counts_the_sidecar_settings(s3, runway):
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.json", json.dumps({"duration": 10}))
    put(s3, "dog.png", png(8, 8, (4, 5, 6)))
    put(s3, "bad.png", png(8, 8, (7, 8, 9)))
    put(s3, "bad.json", b"{")
    with pytest.raises(Exception, match=r"Estimated cost 75 credits"):  # 50 + 25, not bad.png
        run(budget_credits=70)
    assert runway.stats()["posts"] == 0


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_a_sidecar_split_across_a_page_boundary(s3, runway, monkeypatch, page_size):
    def small_pages(s3, bucket, prefix=""):
        return iter_s3_pages(s3, bucket, prefix, page_size=page_size)

    monkeypatch.setattr(flow_module, "iter_s3_pages", small_pages)
    # sorted: a.png | cat.json cat.png cat.txt | stray.txt | z.png
    put(s3, "a.png", png(8, 8, (1, 1, 1)))
    put(s3, "cat.json", json.dumps({"seed": 42}))
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.txt", b"split cat")
    put(s3, "stray.txt", b"stray")
    put(s3, "z.png", png(8, 8, (9, 9, 9)))
    result = run(prompt_text="default")
    assert [(row.source, row.status) for row in result.rows] == [
        (uri("a.png"), "submitted"), (uri("cat.png"), "submitted"),
        (uri("stray.txt"), "rejected"), (uri("z.png"), "submitted")]
    sent = bodies(runway, result)[uri("cat.png")]
    assert (sent["promptText"], sent["seed"]) == ("split cat", 42)
    assert run(prompt_text="default").cached == 3 and runway.stats()["posts"] == 3


KEYS = ["a", "a.b.json", "a.b.png", "a.c", "a.txt", "a-x", "a..txt", "cat", "cat.png",
        "cat.json", "cat.txt", "cat.a.png", "cat.a.txt", "cat.b.json", "cat-2.png", "cat-2.txt",
        "cat/x.png", "cat/x.json", "cat.zzz", "cat.jpg", "dog.txt", "dog.json", "eel.jpg",
        "eel.json", "b.txt", "b.jpeg"]


def _grouped(keys, size):
    objs = [S3Image("b", k, "e", 1) for k in keys]
    pages = (objs[i : i + size] for i in range(0, len(objs), size))
    got = list(image_pages(pages))
    return [o.key for p, _ in got for o in p], {k: v for _, d in got for k, v in d.items()}


def test_image_pages_do_not_depend_on_where_pages_end():
    objects, sidecars = _grouped(sorted(KEYS), len(KEYS))
    assert "cat.json" not in objects and "dog.json" in objects and "cat.b.json" in objects
    assert sidecars["cat"] == sidecars["cat.png"] == ("cat.json", "cat.txt")
    assert sidecars["a"] == ("a.txt",) and sidecars["cat/x.png"] == ("cat/x.json",)
    generator = random.Random(7)
    for _ in range(300):
        keys = sorted(generator.sample(KEYS, generator.randint(1, len(KEYS))))
        whole = _grouped(keys, len(keys))
        for size in range(1, len(keys)):
            assert _grouped(keys, size) == whole, (keys, size)


def test_a_sidecar_that_cannot_be_read_fails_its_image(s3, runway, monkeypatch):
    put(s3, "cat.png", png(8, 8, (1, 2, 3)))
    put(s3, "cat.txt", b"a cat")
    put(s3, "dog.png", png(8, 8, (4, 5, 6)))
    real = BaseClient._make_api_call

    def refuse(self, operation, params):
        if operation == "GetObject" and params.get("Key") == "in/cat.txt":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    with pytest.raises(BatchFailedError, match="1 of 2 submissions failed"):
        run()
    result = run(fail_on_errors=False)
    rows = {row.source: row for row in result.rows}
    assert rows[uri("cat.png")].status == "failed"
    assert rows[uri("cat.png")].error == (
        f"{uri('cat.txt')}: access denied: check the AWS credentials and the bucket policy; a "
        f"sidecar of {uri('cat.png')}, which was not submitted")
    assert rows[uri("dog.png")].status == "cached" and runway.stats()["posts"] == 1
    monkeypatch.setattr(BaseClient, "_make_api_call", real)
    healed = run()
    assert healed.submitted == 1 and runway.stats()["posts"] == 2
    assert bodies(runway, healed)[uri("cat.png")]["promptText"] == "a cat"
