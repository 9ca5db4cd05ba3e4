"""prefect_runway.table: tables (CSV, JSONL, Parquet, local or on S3, lists of dicts) read into
generation rows, every bad row a rejection with its exact message; variants, sidecars."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys

import pytest
from botocore.exceptions import ClientError

from prefect_runway.errors import ImageSourceError, RunwayValidationError
from prefect_runway.table import (
    MAX_VARIANTS,
    RejectedRow,
    TableError,
    TableRow,
    normalize_endpoint,
    read_table,
    rows_from_images,
    sidecar_fields,
    variant_seed,
)

I2V = {"model": "gen4_turbo", "ratio": "1280:720"}


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def messages(read) -> list[str]:
    return [r.message for r in read.rejected]


# -- formats -------------------------------------------------------------------------------


def test_csv_columns_snake_or_camel_become_wire_fields_with_their_types(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "id,model,prompt_image,PromptText,duration,ratio,audio,seed,# notes\n"
        "cat,veo3.1,s3://stills/cat.png,a cat,6,1280:720,yes,42,for me\n"
        "dog,gen4_turbo,https://example.com/dog.png,,5,720:1280,,,\n",
    )
    read = read_table(path)
    assert read.rejected == []
    assert read.rows == [
        TableRow(
            2, "cat", "image_to_video",
            {"model": "veo3.1", "promptImage": "s3://stills/cat.png", "promptText": "a cat",
             "duration": 6, "ratio": "1280:720", "audio": True, "seed": 42},
            1, f"{path}:2 (id cat)",
        ),
        TableRow(
            3, "dog", "image_to_video",
            {"model": "gen4_turbo", "promptImage": "https://example.com/dog.png", "duration": 5,
             "ratio": "720:1280"},
            1, f"{path}:3 (id dog)",
        ),
    ]  # fmt: skip
    assert read.rows[0].path == "/v1/image_to_video"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("true", True), ("False", False), ("1", True), ("0", False), ("YES", True), ("no", False)],
)
def test_csv_booleans(tmp_path, cell, value):
    path = write(tmp_path, "t.csv", f"promptImage,audio\ns3://b/a.png,{cell}\n")
    (row,) = read_table(path, defaults={"model": "veo3.1", "ratio": "1280:720"}).rows
    assert row.body["audio"] is value


def test_csv_lines_count_the_header_as_line_1_and_skip_blank_lines(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        'promptImage,promptText\ns3://b/1.png,"two\nlines"\n\ns3://b/2.png,x\n,\n',
    )
    read = read_table(path, defaults=I2V)
    assert [(r.line, r.id, r.source) for r in read.rows] == [
        (2, "line-2", f"{path}:2"),
        (5, "line-5", f"{path}:5"),
    ]
    assert read.rows[0].body["promptText"] == "two\nlines"


def test_csv_json_and_pipe_lists_and_bare_asset_uris(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "endpoint,version,productImages,styleImages,ratio\n"
        'recipes/product_ad,2026-06,s3://b/1.png | https://x.com/2.png,"[{""uri"": ""s3://b/s.png""}]",'
        "1280:720\n",
    )
    (row,) = read_table(path).rows
    assert row.endpoint == "recipes/product_ad"
    assert row.body == {
        "version": "2026-06",
        "productImages": [{"uri": "s3://b/1.png"}, {"uri": "https://x.com/2.png"}],
        "styleImages": [{"uri": "s3://b/s.png"}],
        "ratio": "1280:720",
    }
    path = write(
        tmp_path,
        "u.csv",
        "referenceImage,targetLanguage,version\n\"data:image/png;base64,AAAA\",fr,2026-06\n",
    )
    (row,) = read_table(path, endpoint="recipes/ad_localization").rows
    assert row.body["referenceImage"] == {"uri": "data:image/png;base64,AAAA"}  # a bare URI


def test_csv_integer_or_auto_numbers_and_int_enums(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "model,promptText,duration,ratio,cfgScale\n"
        "kling2.5_turbo_pro,a,5,1280:720,0.5\n"
        "veo3.1,b,8,1280:720,\n"
        "seedance2,c,auto,,\n"
        "gemini_omni_flash_1.1,d,AUTO,,\n"
        "gemini_omni_flash_1.1,e,2,,\n",
    )
    read = read_table(path, endpoint="text_to_video")
    assert [r.body["duration"] for r in read.rows] == [5, 8, "auto", "auto"]
    assert read.rows[0].body["cfgScale"] == 0.5
    assert messages(read) == [
        "line 6, column 'duration': 2 is out of range for model gemini_omni_flash_1.1; "
        "expected 3 to 10."
    ]
    read = read_table([{"model": "seedance2", "promptText": "x", "duration": "soon"}],
                      endpoint="text_to_video")  # fmt: skip
    assert messages(read) == [
        "line 1, column 'duration': must be an integer or 'auto', got 'soon'."
    ]


def test_csv_cells_in_error_name_line_column_value_and_what_is_allowed(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "id,promptImage,duration,audio,model,ratio,references\n"
        "cat,s3://b/c.png,11,,gen4_turbo,1280:720,\n"
        "dog,s3://b/d.png,six,,veo3.1,1280:720,\n"
        "cow,s3://b/e.png,7,maybe,veo3.1,1280:720,\n"
        "hen,s3://b/f.png,,,veo3.1,16:9,\n"
        "pig,s3://b/g.png,,,klingO3_4k,,{broken\n",
    )
    read = read_table(path)
    assert read.rows == []
    assert messages(read) == [
        "line 2 (id cat), column 'duration': 11 is out of range for model gen4_turbo; "
        "expected 2 to 10.",
        "line 3 (id dog), column 'duration': 'six' is not supported by model veo3.1; "
        "expected one of 4, 6, 8.",
        "line 4 (id cow), column 'audio': must be a boolean (true/false, yes/no, 1/0), "
        "got 'maybe'.",
        "line 4 (id cow), column 'duration': 7 is not supported by model veo3.1; "
        "expected one of 4, 6, 8.",
        "line 5 (id hen), column 'ratio': '16:9' is not supported by model veo3.1; expected "
        "one of 1280:720, 720:1280, 1080:1920, 1920:1080.",
        "line 6 (id pig), column 'references': must be JSON, got '{broken' (not valid JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)).",
    ]
    assert (read.rejected[-1].column, read.rejected[-1].value) == ("references", "{broken")
    assert read.rejected[0] == RejectedRow(
        2, "cat", "duration", "11",
        "11 is out of range for model gen4_turbo; expected 2 to 10.", f"{path}:2 (id cat)",
    )  # fmt: skip


def test_csv_integers_and_too_many_cells(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "id,promptImage,duration,seed\n"
        "a,s3://b/a.png,2.5,\n"
        "b,s3://b/b.png,5.0,-1\n"
        "c,s3://b/c.png,5,1,extra\n",
    )
    read = read_table(path, defaults=I2V)
    assert messages(read) == [
        "line 2 (id a), column 'duration': must be an integer, got '2.5'.",
        "line 3 (id b), column 'seed': -1 is out of range for model gen4_turbo; "
        "expected 0 to 4294967295.",
        "line 4 (id c): has 5 cells; the header has 4.",
    ]


def test_csv_header_naming_a_column_twice(tmp_path):
    path = write(tmp_path, "t.csv", "promptImage,ratio,ratio\nx,y,z\n")
    with pytest.raises(TableError, match="the header names 'ratio' twice"):
        read_table(path)


def test_jsonl_values_keep_their_types(tmp_path):
    path = write(
        tmp_path,
        "t.jsonl",
        json.dumps({"id": 7, "prompt_image": "s3://b/a.png", "duration": 5, "seed": None}) + "\n"
        "\n"
        + json.dumps({"id": "x", "promptImage": "s3://b/b.png", "duration": "5"}) + "\n"
        "{not json\n"
        "[1, 2]\n",
    )
    read = read_table(path, defaults=I2V)
    assert [(r.line, r.id, r.body) for r in read.rows] == [
        (1, "7", {"model": "gen4_turbo", "promptImage": "s3://b/a.png", "duration": 5,
                  "ratio": "1280:720"}),
    ]  # fmt: skip
    assert messages(read)[0] == "line 3 (id x), column 'duration': must be an integer, got '5'."
    assert messages(read)[1].startswith("line 4: is not valid JSON (")
    assert messages(read)[2] == "line 5: must be an object of fields, got [1, 2]."


def test_ndjson_and_gzip(tmp_path):
    line = json.dumps({"promptImage": "s3://b/a.png"}) + "\n"
    (tmp_path / "t.ndjson").write_text(line)
    (tmp_path / "t.jsonl.gz").write_bytes(gzip.compress(line.encode()))
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(b"promptImage\ns3://b/a.png\n"))
    for name in ("t.ndjson", "t.jsonl.gz", "t.csv.gz"):
        (row,) = read_table(tmp_path / name, defaults=I2V).rows
        assert row.body["promptImage"] == "s3://b/a.png", name


def test_parquet_nulls_are_not_given_and_lines_are_index_plus_one(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = pa.table(
        {
            "id": ["a", "b", None],
            "prompt_image": ["s3://b/a.png", "s3://b/b.png", "s3://b/c.png"],
            "duration": [5.0, None, 12.0],  # ints with nulls, as pandas writes them
            "audio": [None, None, None],
        }
    )
    pq.write_table(data, tmp_path / "t.parquet")
    read = read_table(tmp_path / "t.parquet", defaults=I2V)
    assert [(r.line, r.id, r.body.get("duration")) for r in read.rows] == [
        (1, "a", 5),
        (2, "b", None),
    ]
    assert messages(read) == [
        "line 3, column 'duration': 12 is out of range for model gen4_turbo; expected 2 to 10."
    ]


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"pip install 'prefect-runway\[table\]'"):
        read_table(tmp_path / "t.parquet")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(TableError) as caught:
        read_table(tmp_path / "t.xlsx")
    assert str(caught.value) == (
        f"{tmp_path / 't.xlsx'}: unknown table format; expected a file ending in .csv, "
        ".jsonl, .ndjson, .parquet, or .csv.gz, .jsonl.gz, .ndjson.gz"
    )
    assert isinstance(caught.value, RunwayValidationError)
    with pytest.raises(TableError, match="cannot be read: No such file"):
        read_table(tmp_path / "none.csv")


def test_a_list_of_dicts(tmp_path):
    read = read_table(
        [{"promptImage": "s3://b/a.png"}, "not a row", {"promptImage": "s3://b/b.png", "id": "b"}],
        defaults=I2V,
    )
    assert [(r.line, r.id, r.source) for r in read.rows] == [
        (1, "line-1", "<rows>:1"),
        (3, "b", "<rows>:3 (id b)"),
    ]
    assert messages(read) == ["line 2: must be an object of fields, got 'not a row'."]


# -- S3 ------------------------------------------------------------------------------------


def test_a_table_on_s3_with_a_given_client_or_the_standard_chain(s3):
    s3.create_bucket(Bucket="tables")
    try:
        s3.put_object(Bucket="tables", Key="in/t.csv", Body=b"promptImage\ns3://b/a.png\n")
        for client in (s3, None):  # None: boto3.client("s3"), AWS_ENDPOINT_URL is moto
            (row,) = read_table("s3://tables/in/t.csv", defaults=I2V, s3=client).rows
            assert row.source == "s3://tables/in/t.csv:2"
        with pytest.raises(ImageSourceError, match="s3://tables/none.csv: the object does not"):
            read_table("s3://tables/none.csv", s3=s3)
    finally:
        s3.delete_object(Bucket="tables", Key="in/t.csv")
        s3.delete_bucket(Bucket="tables")


# -- endpoints, models, columns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("image_to_video", "image_to_video"),
        ("/v1/text_to_video", "text_to_video"),
        ("text-to-video", "text_to_video"),
        ("v1/generate/video", "generate/video"),
        ("recipes/product-ad", "recipes/product_ad"),
        (" Text_To_Image ", "text_to_image"),
    ],
)
def test_endpoint_names(given, name):
    assert normalize_endpoint(given) == name


def test_unknown_endpoints():
    with pytest.raises(TableError, match=r"'text2video' is no task endpoint; did you mean"):
        read_table([], endpoint="text2video")
    read = read_table([{"endpoint": "videos", "model": "x"}])
    assert messages(read) == [
        "line 1, column 'endpoint': 'videos' is no task endpoint; did you mean video_upscale or "
        "avatar_videos?"
    ]


def test_an_endpoint_column_overrides_the_default_per_row():
    read = read_table(
        [
            {"promptImage": "s3://b/a.png"},
            {"endpoint": "/v1/text_to_video", "model": "veo3.1", "promptText": "sea"},
            {"endpoint": "text-to-image", "model": "gen4_image", "promptText": "sky"},
        ],
        defaults={**I2V, "duration": 6},
    )
    assert read.rejected == []
    assert [(r.endpoint, r.body) for r in read.rows] == [
        ("image_to_video",
         {"model": "gen4_turbo", "promptImage": "s3://b/a.png", "ratio": "1280:720",
          "duration": 6}),
        ("text_to_video",
         {"model": "veo3.1", "promptText": "sea", "ratio": "1280:720", "duration": 6}),
        ("text_to_image",  # gen4_image has no duration: that default is left out
         {"model": "gen4_image", "promptText": "sky", "ratio": "1280:720"}),
    ]  # fmt: skip


def test_a_default_out_of_the_models_values_is_rejected_as_from_defaults():
    read = read_table(
        [{"model": "veo3.1", "promptText": "sea"}],
        endpoint="text_to_video",
        defaults={"ratio": "1280:720", "duration": 5},
    )
    assert messages(read) == [
        "line 1, column 'duration': 5 is not supported by model veo3.1; expected one of 4, 6, 8 "
        "(from defaults)."
    ]


def test_unknown_columns_name_close_matches():
    read = read_table(
        [{"promptImage": "s3://b/a.png", "prompt_txt": "x", "zzz": 1, "#note": "kept out"}],
        defaults=I2V,
    )
    assert messages(read)[0] == (
        "line 1, column 'prompt_txt': is no field of image_to_video; did you mean promptText or "
        "promptImage?"
    )
    assert messages(read)[1].startswith(
        "line 1, column 'zzz': is no field of image_to_video; its fields are audio, cfgScale, "
    )
    assert read.rejected[1].value == "1"


def test_a_field_of_another_model_and_a_field_given_twice():
    read = read_table(
        [{"promptImage": "s3://b/a.png", "audio": False, "prompt_text": "a", "promptText": "b"}],
        defaults=I2V,
    )
    assert messages(read) == [
        "line 1, column 'promptText': names promptText, as column 'prompt_text' does.",
        "line 1, column 'audio': is no field of model gen4_turbo.",
    ]


def test_the_model_must_be_given_and_known():
    read = read_table(
        [{"promptImage": "s3://b/a.png"}, {"promptImage": "s3://b/a.png", "model": "gen5"}],
    )
    assert messages(read)[0].startswith(
        "line 1, column 'model': is required for image_to_video; expected one of gen4.5, "
        "gen4_turbo, veo3.1,"
    )
    assert messages(read)[1].startswith(
        "line 2, column 'model': 'gen5' is not supported by image_to_video; expected one of "
        "gen4.5, gen4_turbo,"
    )
    assert "gen3a_turbo" not in messages(read)[1]  # retired: accepted, not advertised
    read = read_table([{"version": "2026-06"}], endpoint="recipes/multi_shot_video",
                      defaults={"mode": "manual"})  # fmt: skip
    assert messages(read) == [
        "line 1, column 'mode': 'manual' is not supported by recipes/multi_shot_video; "
        "expected one of auto, custom (from defaults)."
    ]


def test_required_fields_and_nested_checks():
    read = read_table(
        [{"id": "hen", "model": "gen4.5", "promptImage": "s3://b/a.png"}],
    )
    assert messages(read) == [
        "line 1 (id hen), column 'duration': is required for model gen4.5.",
        "line 1 (id hen), column 'promptText': is required for model gen4.5.",
        "line 1 (id hen), column 'ratio': is required for model gen4.5.",
    ]
    read = read_table(
        [{"id": "box", "configId": "c", "input": {"aspectRatio": "7:7"}}],
        endpoint="generate/image",
    )
    assert messages(read) == [
        "line 1 (id box), column 'input': input.aspectRatio '7:7' is not supported by "
        "generate/image; expected one of 16:9, 9:16, 1:1, 4:3, 3:4, 21:9, 2:3, 3:2, 4:5, 5:4.",
        "line 1 (id box), column 'input': input.promptText is required for generate/image.",
    ]


def test_prompt_text_length_in_utf16_units():
    read = read_table([{"promptImage": "s3://b/a.png", "promptText": "🎬" * 501}], defaults=I2V)
    assert messages(read) == [
        "line 1, column 'promptText': is 1002 UTF-16 code units long; the limit is 1000."
    ]


def test_the_model_routers_input_by_dotted_or_plain_columns(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "configId,input.aspect_ratio,prompt_text,input\n"
        'cfg,16:9,a storm,"{""duration"": 5, ""promptText"": ""ignored""}"\n',
    )
    (row,) = read_table(path, endpoint="generate/video", defaults={"input": {"audio": True}}).rows
    assert row.body == {
        "configId": "cfg",
        "input": {"duration": 5, "promptText": "a storm", "aspectRatio": "16:9", "audio": True},
    }


def test_values_shown_in_rejections_never_carry_a_urls_query():
    url = "https://b.s3.amazonaws.com/cat.png?X-Amz-Signature=secret"
    read = read_table([{"promptImage": url, "unknown": url}], defaults=I2V)
    (rejected,) = read.rejected
    assert rejected.value == "https://b.s3.amazonaws.com/cat.png?<redacted>"
    assert "secret" not in rejected.message
    long = read_table([{"promptImage": "s3://b/a.png", "ratio": "x" * 200}], defaults=I2V)
    assert len(long.rejected[0].value or "") == 80


# -- defaults ------------------------------------------------------------------------------


def test_defaults_fill_what_rows_do_not_give_and_rows_win(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "promptImage,ratio,duration,model\ns3://b/a.png,,7,\ns3://b/b.png,720:1280,,veo3.1\n",
    )
    read = read_table(path, defaults={"model": "gen4_turbo", "ratio": "1280:720", "duration": 9})
    assert [r.body for r in read.rows] == [
        {"model": "gen4_turbo", "promptImage": "s3://b/a.png", "duration": 7,
         "ratio": "1280:720"},
    ]  # fmt: skip
    assert messages(read) == [
        "line 3, column 'duration': 9 is not supported by model veo3.1; expected one of 4, 6, 8 "
        "(from defaults)."
    ]


def test_defaults_in_snake_case_and_bad_defaults():
    (row,) = read_table([{"promptImage": "s3://b/a.png"}], defaults={
        "model": "gen4_turbo", "ratio": "1280:720", "prompt_text": "hi"}).rows  # fmt: skip
    assert row.body["promptText"] == "hi"
    with pytest.raises(TableError, match=r"defaults: 'promt_text' is no request field; did you"):
        read_table([], defaults={"promt_text": "x"})
    with pytest.raises(TableError, match="defaults cannot set 'id'"):
        read_table([], defaults={"id": "x"})


# -- variants ------------------------------------------------------------------------------


def test_variants_get_deterministic_seeds_the_same_on_every_read(tmp_path):
    path = write(tmp_path, "t.csv", "id,promptImage,variants\ncat,s3://b/c.png,3\n")
    first = read_table(path, defaults=I2V)
    again = read_table(path, defaults=I2V)
    assert first == again
    assert [(r.id, r.variant, r.body["seed"], r.source) for r in first.rows] == [
        (f"cat#{k}", k, variant_seed("cat", k), f"{path}:2 (id cat#{k})") for k in (1, 2, 3)
    ]
    assert len({r.body["seed"] for r in first.rows}) == 3
    assert all(0 <= r.body["seed"] <= 4294967295 for r in first.rows)
    assert variant_seed("cat", 1) == int.from_bytes(hashlib.sha256(b"cat#1").digest()[:4], "big")


def test_variants_from_a_given_seed_count_up():
    read = read_table(
        [
            {"id": "a", "promptImage": "s3://b/a.png", "seed": 10, "variants": 3},
            {"id": "b", "promptImage": "s3://b/b.png", "seed": 4294967295, "variants": 2},
            {"id": "c", "promptImage": "s3://b/b.png", "variants": 1},
        ],
        defaults=I2V,
    )
    assert [(r.id, r.body.get("seed")) for r in read.rows] == [
        ("a#1", 10), ("a#2", 11), ("a#3", 12), ("c", None),
    ]  # fmt: skip
    assert messages(read) == [
        "line 2 (id b), column 'seed': 2 variants from seed 4294967295 pass the largest seed, "
        "4294967295."
    ]


def test_bad_variants_and_endpoints_without_a_seed():
    read = read_table(
        [
            {"promptImage": "s3://b/a.png", "variants": 0},
            {"promptImage": "s3://b/a.png", "variants": "many"},
            {"promptImage": "s3://b/a.png", "variants": MAX_VARIANTS + 1},
            {"endpoint": "recipes/product_ad", "version": "2026-06",
             "productImages": [{"uri": "s3://b/p.png"}], "variants": 2},
        ],
        defaults=I2V,
    )  # fmt: skip
    assert messages(read) == [
        "line 1, column 'variants': must be an integer from 1 to 100, got 0.",
        "line 2, column 'variants': must be an integer from 1 to 100, got 'many'.",
        "line 3, column 'variants': must be an integer from 1 to 100, got 101.",
        "line 4, column 'variants': recipes/product_ad has no seed, so its variants could not "
        "differ; leave variants out.",
    ]


def test_variants_of_the_model_router_seed_its_input():
    read = read_table(
        [{"configId": "c", "promptText": "x", "variants": 2}], endpoint="generate/image"
    )
    assert [r.body["input"]["seed"] for r in read.rows] == [
        variant_seed("line-1", 1),
        variant_seed("line-1", 2),
    ]


# -- ids -----------------------------------------------------------------------------------


def test_a_duplicate_id_is_rejected_naming_the_first_line(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "id,promptImage\ncat,s3://b/a.png\ndog,s3://b/b.png\ncat,s3://b/c.png\n",
    )
    read = read_table(path, defaults=I2V)
    assert [r.id for r in read.rows] == ["cat", "dog"]
    assert messages(read) == ["line 4 (id cat), column 'id': 'cat' is already the id of line 2."]
    read = read_table(
        [{"id": "a", "promptImage": "s3://b/a.png", "variants": 2},
         {"id": "a#2", "promptImage": "s3://b/b.png"}],
        defaults=I2V,
    )  # fmt: skip
    assert messages(read) == ["line 2 (id a#2), column 'id': 'a#2' is already the id of line 1."]
    read = read_table(
        [{"id": "a#2", "promptImage": "s3://b/b.png"},
         {"id": "a", "promptImage": "s3://b/a.png", "variants": 2}],
        defaults=I2V,
    )  # fmt: skip
    assert messages(read) == [
        "line 2 (id a), column 'variants': makes the id 'a#2', already the id of line 1."
    ]


# -- sidecars and images -------------------------------------------------------------------


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="sidecars")
    yield s3
    for item in s3.list_objects_v2(Bucket="sidecars").get("Contents", []):
        s3.delete_object(Bucket="sidecars", Key=item["Key"])
    s3.delete_bucket(Bucket="sidecars")


def test_sidecars_txt_json_both_and_none(bucket):
    put = bucket.put_object
    put(Bucket="sidecars", Key="in/cat.txt", Body="\ufeff  un chat café\n".encode())
    put(Bucket="sidecars", Key="in/dog.json", Body=b'{"duration": 5, "prompt_text": "a dog"}')
    put(Bucket="sidecars", Key="in/cow.json", Body=b'{"seed": 3}')
    put(Bucket="sidecars", Key="in/cow.txt", Body=b"a cow")
    assert sidecar_fields(bucket, "sidecars", "in/cat.png") == {"promptText": "un chat café"}
    assert sidecar_fields(bucket, "sidecars", "in/dog.webp") == {
        "duration": 5,
        "prompt_text": "a dog",
    }
    assert sidecar_fields(bucket, "sidecars", "in/cow.jpg") == {"seed": 3, "promptText": "a cow"}
    assert sidecar_fields(bucket, "sidecars", "in/pig.png") == {}


def test_bad_sidecars_name_the_object(bucket):
    bucket.put_object(Bucket="sidecars", Key="cat.json", Body=b"{nope")
    bucket.put_object(Bucket="sidecars", Key="dog.json", Body=b"[1]")
    bucket.put_object(Bucket="sidecars", Key="cow.json", Body=b'{"promptText": "x"}')
    bucket.put_object(Bucket="sidecars", Key="cow.txt", Body=b"y")
    with pytest.raises(TableError, match=r"^s3://sidecars/cat.json is not valid JSON \("):
        sidecar_fields(bucket, "sidecars", "cat.png")
    with pytest.raises(ValueError, match=r"s3://sidecars/dog.json must hold a JSON object"):
        sidecar_fields(bucket, "sidecars", "dog.png")
    with pytest.raises(TableError, match="cow.txt and s3://sidecars/cow.json both give promptText"):
        sidecar_fields(bucket, "sidecars", "cow.png")


class Denied:
    """An S3 client that is refused everything."""

    def get_object(self, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")


def test_a_sidecar_that_cannot_be_read_is_raised_not_taken_for_absent():
    with pytest.raises(ImageSourceError, match="s3://b/in/cat.json: access denied"):
        sidecar_fields(Denied(), "b", "in/cat.png")
    with pytest.raises(ImageSourceError, match="s3://b/t.csv: access denied"):
        read_table("s3://b/t.csv", s3=Denied())


def test_rows_from_images():
    read = rows_from_images(
        [
            ("s3://b/in/cat.png", {"prompt_text": "a cat", "promptImage": "s3://b/other.png"}),
            ("s3://b/in/dog.png", {"duration": 11}),
            ("s3://b/in/cow.png", {"id": "cow", "variants": 2}),
        ],
        defaults=I2V,
    )
    assert [(r.line, r.id, r.source, r.body["promptImage"]) for r in read.rows] == [
        (1, "s3://b/in/cat.png", "s3://b/in/cat.png", "s3://b/in/cat.png"),
        (3, "cow#1", "s3://b/in/cow.png (id cow#1)", "s3://b/in/cow.png"),
        (3, "cow#2", "s3://b/in/cow.png (id cow#2)", "s3://b/in/cow.png"),
    ]
    assert read.rows[0].body["promptText"] == "a cat"
    (rejected,) = read.rejected
    assert rejected.source == "s3://b/in/dog.png"
    assert rejected.message == (
        "line 2 (id s3://b/in/dog.png), column 'duration': 11 is out of range for model "
        "gen4_turbo; expected 2 to 10."
    )
    with pytest.raises(TableError, match="text_to_video takes no promptImage"):
        rows_from_images([], endpoint="text_to_video")


def test_carried_columns_are_kept_aside_and_only_non_fields_leave_the_body(tmp_path):
    """A pipeline's later stages read columns stage 1 does not take: kept, not refused."""
    path = tmp_path / "t.csv"
    path.write_text("id,promptText,motion\na,a lighthouse,slow pan\n")
    plain = read_table(path, endpoint="text_to_image", defaults={"model": "gen4_image",
                                                                 "ratio": "1920:1080"})
    assert [r.column for r in plain.rejected] == ["motion"]  # a typo, without carry
    read = read_table(path, endpoint="text_to_image", carry={"motion", "promptText"},
                      defaults={"model": "gen4_image", "ratio": "1920:1080"})  # fmt: skip
    assert read.rejected == []
    (row,) = read.rows
    assert row.carried == {"motion": "slow pan", "promptText": "a lighthouse"}
    assert row.body["promptText"] == "a lighthouse" and "motion" not in row.body
