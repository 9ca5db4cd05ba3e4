"""Mutation check of the once-only guards (``make mutate``; not part of ``make test``).

Each mutation below breaks one guard with a textual replacement in a scratch copy of the
repository, then runs there the tests that claim to cover that guard, with this venv's
python and ``PYTHONPATH`` pointing at the copy (the editable install's finder comes after
``PYTHONPATH``; the ``sanity`` mutation and a pre-flight import check make sure the copy is
what runs). A mutation is *killed* when those tests fail. Every mutation must be killed: one
that survives names a test that asserts less than it claims, or a guard nobody tests.

Usage:
    python tests/mutate.py                 # every mutation, then a table; exit 1 if any survived
    python tests/mutate.py --list          # names, guards and tests only
    python tests/mutate.py NAME [NAME...]  # some of them
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "tests/reliability/test_engine_faults.py::"
RELIABILITY = "tests/reliability/test_reliability.py::"
TASKS = "tests/test_tasks.py::"
CLIENT = "tests/test_client.py::"
LOCKS = "tests/test_locks.py::"
FLOWS = "tests/test_flows.py::"
MULTIHOST = "tests/test_multihost.py::"
INTENTS = "tests/test_conditional_intents.py::"
SETTINGS = "tests/test_settings.py::"
IMAGES = "tests/test_images.py::"
OUTCOMES = "tests/reliability/test_create_outcomes.py::"
CHECKS = "tests/reliability/test_checks_before_paying.py::"
ADOPT = "tests/reliability/test_adopt.py::"
AFTER = "tests/reliability/test_after_the_post.py::"
TABLE = OUTCOMES + "test_each_answer_is_classified_by_its_evidence"
WAITING = "tests/reliability/test_waiting.py::"
DELIVERY = "tests/reliability/test_delivery.py::"
MANIFEST = "tests/test_manifest.py::"
COLLECT = "tests/test_collect.py::"
GENERATION = "tests/test_generation.py::"
BUDGET = "tests/test_shared_budget.py::"
CANCEL = "tests/test_cancellation.py::"
RECONCILE = "tests/test_reconcile.py::"


@dataclass(frozen=True)
class Mutation:
    """One guard broken on purpose: `old` (found exactly once in `path`) becomes `new`."""

    name: str
    guard: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "sanity",
        "the scratch copy is the code under test",
        "prefect_runway/ledger/engine.py",
        "        settings = job.settings or settings\n        key = self.key(",
        "        settings = None  # type: ignore[assignment]\n        key = self.key(",
        (ENGINE + "test_definite_failure_undoes_its_intent_so_a_rerun_submits",),
    ),
    # -- the client -----------------------------------------------------------------------
    Mutation(
        "retry-after-ignored",
        "429 waits what Retry-After asks",
        "prefect_runway/api/client.py",
        "if isinstance(error, RunwayRateLimitError) and error.retry_after is not None:",
        "if False:",
        (CLIENT + "test_429_honours_retry_after_then_gives_up",
         CLIENT + "test_delay_is_what_retry_after_asks_capped"),
    ),  # fmt: skip
    Mutation(
        "retry-after-uncapped",
        "Retry-After capped at backoff_max",
        "prefect_runway/api/client.py",
        "return min(error.retry_after, self.backoff_max)",
        "return error.retry_after",
        (CLIENT + "test_retry_after_is_capped_at_backoff_max",
         CLIENT + "test_async_client_waits_what_retry_after_asks"),
    ),  # fmt: skip
    Mutation(
        "download-error-unredacted",
        "download errors show no URL signature",
        "prefect_runway/api/client.py",
        'f"Download of {redact_url(url)} failed',
        'f"Download of {url} failed',
        (CLIENT + "test_download_errors_name_the_url_without_its_signature",),
    ),
    # -- locks ----------------------------------------------------------------------------
    Mutation(
        "lock-without-o-excl",
        "a lock file is created exclusively",
        "prefect_runway/ledger/locks.py",
        "os.O_WRONLY | os.O_CREAT | os.O_EXCL",
        "os.O_WRONLY | os.O_CREAT",
        (TASKS + "test_two_concurrent_runs_submit_once",
         ENGINE + "test_runs_reaching_a_held_lock_wait_and_read_the_record",
         LOCKS + "test_a_second_holder_cannot_acquire_until_release",
         RELIABILITY + "test_r4_two_concurrent_runs_submit_each_image_once"),
    ),  # fmt: skip
    Mutation(
        "lock-break-without-compare",
        "a lock is broken only if unchanged since judged",
        "prefect_runway/ledger/locks.py",
        "if current != judged:",
        "if False:",
        (LOCKS + "test_a_lock_renewed_after_it_was_judged_is_left_alone",),
    ),
    Mutation(
        "lock-renewal-noop",
        "renew_lock pushes the expiry forward",
        "prefect_runway/ledger/locks.py",
        "        if not self.is_lock_holder(key, holder):\n            return False\n"
        "        temporary",
        "        return self.is_lock_holder(key, holder)\n        temporary",
        (LOCKS + "test_renewal_keeps_a_live_lock_from_expiring",
         ENGINE + "test_a_lock_held_through_a_slow_post_is_renewed"),
    ),  # fmt: skip
    Mutation(
        "partial-lock-never-ages",
        "empty or partial lock files age out by mtime",
        "prefect_runway/ledger/locks.py",
        "return time.time() - path.stat().st_mtime > PARTIAL_FILE_GRACE",
        "return False",
        (LOCKS + "test_empty_or_partial_lock_files_age_out_by_mtime",),
    ),
    Mutation(
        "pid-check-across-namespaces",
        "a dead PID counts only on this host, boot and PID namespace",
        "prefect_runway/ledger/locks.py",
        'return same_machine and not _alive(info.get("pid"))',
        'return not _alive(info.get("pid"))',
        (LOCKS + "test_a_dead_pid_in_another_pid_namespace_is_not_trusted",),
    ),
    # -- the engine -----------------------------------------------------------------------
    Mutation(
        "engine-lock-not-awaited",
        "the engine waits for the lock (its isolation)",
        "prefect_runway/ledger/engine.py",
        "await self.locks.aacquire_lock(key, holder, hold_timeout=self.hold_timeout)",
        "self.locks.try_acquire(key, holder, self.hold_timeout)",
        (ENGINE + "test_runs_reaching_a_held_lock_wait_and_read_the_record",
         TASKS + "test_two_concurrent_runs_submit_once"),
    ),  # fmt: skip
    Mutation(
        "engine-no-reread-under-lock",
        "the record is read again under the lock",
        "prefect_runway/ledger/engine.py",
        "earlier = await self.ledger.read(key)  # under the lock",
        "pass  # under the lock",
        (ENGINE + "test_a_run_that_looked_before_the_intent_reads_again_under_the_lock",),
    ),
    Mutation(
        "engine-never-renews",
        "the engine renews its lock while it works",
        "prefect_runway/ledger/engine.py",
        "still_ours = self.locks.renew_lock(key, holder, self.hold_timeout)",
        "still_ours = True",
        (ENGINE + "test_a_lock_held_through_a_slow_post_is_renewed",),
    ),
    Mutation(
        "intent-not-written",
        "an intent is written before the POST",
        "prefect_runway/ledger/engine.py",
        "await self._write_intent(intent, earlier)",
        "pass",
        (ENGINE + "test_intent_that_cannot_be_written_means_no_post",
         ENGINE + "test_sigkill_at_each_step_never_pays_twice_silently[after_post-1-intent]"),
    ),  # fmt: skip
    Mutation(
        "intent-replaces-instead-of-create",
        "an intent is created only where no record exists",
        "prefect_runway/ledger/stores.py",
        "os.link(temporary, target)",
        "os.replace(temporary, target)",
        (ENGINE + "test_intent_is_created_only_where_no_record_exists",),
    ),
    Mutation(
        "read-error-as-no-record",
        "a read error fails closed",
        "prefect_runway/ledger/records.py",
        "        except Exception as exc:\n            raise RecordReadError(\n"
        '                f"Cannot read',
        "        except Exception as exc:\n            return None\n            raise "
        'RecordReadError(\n                f"Cannot read',
        (ENGINE + "test_a_read_error_is_never_no_record",),
    ),
    Mutation(
        "damaged-record-as-no-record",
        "a damaged record fails closed",
        "prefect_runway/ledger/records.py",
        "        except (ValueError, ValidationError, TypeError) as exc:\n",
        "        except (ValueError, ValidationError, TypeError) as exc:\n"
        "            return None  # type: ignore[return-value]\n",
        (ENGINE + "test_a_damaged_record_fails_closed_and_names_the_file",),
    ),
    Mutation(
        "lost-answer-as-plain-failure",
        "a lost answer then errors is an unknown outcome",
        "prefect_runway/ledger/engine.py",
        "if create_outcome(exc) is CreateOutcome.NOT_CREATED:",
        "if True:",
        (ENGINE + "test_lost_answer_then_errors_is_an_unknown_outcome_never_a_plain_failure",),
    ),
    Mutation(
        "lost-answer-deletes-intent",
        "an unknown outcome stays in the ledger",
        "prefect_runway/ledger/engine.py",
        "await self.ledger.replace(unknown)",
        "await self.ledger.delete(intent.key)",
        (ENGINE + "test_lost_answer_then_errors_is_an_unknown_outcome_never_a_plain_failure",),
    ),
    Mutation(
        "unknown-outcome-not-held",
        "an intent without outcome is held until resubmit_unknown",
        "prefect_runway/ledger/engine.py",
        "if earlier is not None and unknown and not (self.resubmit or self.resubmit_unknown):",
        "if False:",
        (ENGINE + "test_sigkill_at_each_step_never_pays_twice_silently[after_post-1-intent]",),
    ),
    Mutation(
        "daily-quota-ignored",
        "no more submissions than today's quota",
        "prefect_runway/ledger/quota.py",
        "        if not self.open(model):\n            return False\n        if model in",
        "        if False:\n            return False\n        if model in",
        ("tests/test_deferral.py::test_a_known_quota_defers_the_rest_without_a_single_429",),
    ),
    Mutation(
        "daily-limit-not-closing",
        "the first daily-limit answer defers the rest",
        "prefect_runway/ledger/engine.py",
        "                self.quota.close(model, "
        'f"daily generation limit reached: {exc}")\n',
        "",
        ("tests/test_deferral.py::test_without_a_known_quota_the_first_429_defers_the_rest",),
    ),
    Mutation(
        "rejected-record-ignored",
        "images rejected for their bytes are not fetched again",
        "prefect_runway/ledger/engine.py",
        '        if earlier is not None and earlier.state == "rejected" and not self.resubmit:\n'
        '            raise ImageRejectedError(earlier.error or "rejected by an earlier run")\n'
        "        if not self.quota.open(model):",
        "        if not self.quota.open(model):",
        ("tests/test_flows.py::test_a_rerun_does_not_fetch_images_already_rejected_for_their_bytes",),
    ),
    Mutation(
        "definite-failure-keeps-intent",
        "a POST that created nothing removes its intent",
        "prefect_runway/ledger/engine.py",
        "await self._undo_intent(intent.key, earlier)  # whatever",
        "pass  # whatever",
        (ENGINE + "test_definite_failure_undoes_its_intent_so_a_rerun_submits",),
    ),
    Mutation(
        "unrecorded-reported-as-submitted",
        "a task whose record failed is reported, never hidden",
        "prefect_runway/ledger/engine.py",
        'row.status = "unrecorded"',
        'row.status = "submitted"',
        (ENGINE + "test_outcome_that_cannot_be_written_keeps_the_task_id_and_never_pays_again",),
    ),
    Mutation(
        "fanout-duplicate-flag-dropped",
        "a retried lost answer flags the row",
        "prefect_runway/ledger/engine.py",
        "row.possible_duplicate = unknown or bool(submitted.lost_responses)",
        "row.possible_duplicate = unknown",
        (FLOWS + "test_a_lost_answer_is_flagged_on_the_row_the_result_and_the_summary",),
    ),
    Mutation(
        "flow-duplicates-uncounted",
        "the flow counts possible duplicates",
        "prefect_runway/flows/s3_image_to_video.py",
        "possible_duplicates=sum(r.possible_duplicate for r in rows),",
        "possible_duplicates=0,",
        (FLOWS + "test_a_lost_answer_is_flagged_on_the_row_the_result_and_the_summary",),
    ),
    Mutation(
        "records-keep-the-presigned-url",
        "records hold no presigned URL",
        "prefect_runway/ledger/engine.py",
        "identity=work.identity,\n                request=work.fields,",
        "identity=work.identity,\n                request=request.to_wire(),",
        (RELIABILITY + "test_r6_no_key_and_no_presigned_signature_anywhere",),
    ),
    Mutation(
        "reintent-unconditional",
        "an intent over an existing record is a conditional write",
        "prefect_runway/ledger/engine.py",
        "await self.ledger.replace_if(intent, earlier)",
        "await self.ledger.replace(intent, attempts=1)",
        (INTENTS + "test_two_local_runners_without_a_shared_lock_pay_once[expired]",
         INTENTS + "test_two_s3_runners_without_a_shared_lock_pay_once[resubmit]"),
    ),  # fmt: skip
    Mutation(
        "local-swap-without-compare",
        "a local record is replaced only if its bytes are those read",
        "prefect_runway/ledger/stores.py",
        "            if current != expected:\n",
        "            if False:\n",
        (INTENTS + "test_two_local_runners_without_a_shared_lock_pay_once[resubmit_unknown]",
         INTENTS + "test_replace_if_compares_the_version_read"),
    ),  # fmt: skip
    Mutation(
        "s3-swap-without-if-match",
        "an S3 record is replaced only if its ETag is the one read",
        "prefect_runway/ledger/stores.py",
        '            extra["IfMatch"] = if_match',
        "            pass",
        (INTENTS + "test_two_s3_runners_without_a_shared_lock_pay_once[expired]",),
    ),
    # -- settings that cannot lie ------------------------------------------------------------
    Mutation(
        "file-url-host-dropped",
        "file://host/... is refused, not read as /...",
        "prefect_runway/settings.py",
        "    if parts.netloc:\n        meant =",
        "    if False:\n        meant =",
        (SETTINGS + "test_lock_settings_refused_naming_variable_value_and_allowed",),
    ),
    Mutation(
        "relative-records-accepted",
        "a relative records folder is refused",
        "prefect_runway/settings.py",
        "    if not path.is_absolute():\n        raise _refuse(",
        "    if False:\n        raise _refuse(",
        (SETTINGS + "test_record_settings_refused_naming_variable_value_and_allowed",
         SETTINGS + "test_a_relative_records_path_refuses_the_ledger_before_any_work"),
    ),  # fmt: skip
    Mutation(
        "unknown-setting-ignored",
        "an unknown PREFECT_RUNWAY_* name is refused",
        "prefect_runway/settings.py",
        "        if name not in KNOWN:",
        "        if False:",
        (SETTINGS + "test_every_setting_is_checked",),
    ),
    Mutation(
        "marker-records-not-compared",
        "workers whose records live elsewhere are refused",
        "prefect_runway/settings.py",
        'if their_records != mine["records"]:',
        "if False:",
        (SETTINGS + "test_records_elsewhere_are_refused_naming_both",),
    ),
    Mutation(
        "marker-host-not-compared",
        "host-local records are refused on another host",
        "prefect_runway/settings.py",
        'if (their_local or mine["host_local"]) and their_host != host:',
        "if False:",
        (SETTINGS + "test_host_local_records_under_shared_locks",),
    ),
    Mutation(
        "marker-never-checked",
        "the default ledger is checked against the lock store's marker",
        "prefect_runway/ledger/records.py",
        "        await config.check_shared_ledger(config.lock_manager(), ledger)\n",
        "",
        (SETTINGS + "test_records_elsewhere_are_refused_naming_both",),
    ),
    # -- images judged by decoding them ------------------------------------------------------
    Mutation(
        "image-not-decoded",
        "truncated and corrupt images are rejected (verify, then load)",
        "prefect_runway/images.py",
        "                image.load()  # every pixel",
        "                pass  # every pixel",
        (IMAGES + "test_check_image_rejects_with_the_reason[truncated-jpeg]",
         IMAGES + "test_the_cli_rejects_bad_files_and_data_uris_without_a_post[truncated-jpeg]"),
    ),  # fmt: skip
    Mutation(
        "image-mode-unchecked",
        "CMYK images are rejected",
        "prefect_runway/images.py",
        "    if mode not in _MODES:",
        "    if False:",
        (IMAGES + "test_check_image_rejects_with_the_reason[cmyk-jpeg]",),
    ),
    Mutation(
        "image-depth-unchecked",
        "16-bit images are rejected",
        "prefect_runway/images.py",
        "    if bits > 8:",
        "    if False:",
        (IMAGES + "test_check_image_rejects_with_the_reason[16-bit-png]",),
    ),
    Mutation(
        "image-animation-unchecked",
        "animated images are rejected",
        "prefect_runway/images.py",
        "    if frames > 1:",
        "    if False:",
        (IMAGES + "test_check_image_rejects_with_the_reason[animated-webp]",),
    ),
    Mutation(
        "image-size-unchecked",
        "images outside the documented dimensions are rejected",
        "prefect_runway/images.py",
        "    if width >= MAX_SIDE or height >= MAX_SIDE:",
        "    if False:",
        (IMAGES + "test_check_image_rejects_with_the_reason[10000x100]",),
    ),
    Mutation(
        "task-data-uri-unchecked",
        "the task decodes data URIs before paying",
        "prefect_runway/tasks.py",
        "    if not any(uri[:5].lower() == \"data:\" for uri in uris):",
        "    if True:",
        (IMAGES + "test_the_task_rejects_bad_data_uris_without_a_post[svg]",),
    ),
    Mutation(
        "cli-data-uri-unchecked",
        "the CLI decodes data URIs before paying",
        "prefect_runway/cli.py",
        '        if arg[:5].lower() == "data:":',
        "        if False:",
        (IMAGES + "test_the_cli_rejects_bad_files_and_data_uris_without_a_post[text]",),
    ),
    Mutation(
        "flow-image-not-decoded",
        "the S3 flow decodes every image before paying",
        "prefect_runway/delivery.py",
        "        info = await asyncio.to_thread(check_image, data, obj.uri, model)",
        "        info = check_image(__import__('prefect_runway.testing.emulator.samples', "
        "fromlist=['png']).png(8, 8), obj.uri, model)",
        (IMAGES + "test_the_s3_flow_rejects_undecodable_images_without_a_post",),
    ),
    # -- identity, tasks, budget, models ---------------------------------------------------
    Mutation(
        "lone-token-stripped",
        "only whole signing schemes leave the identity",
        "prefect_runway/ledger/keys.py",
        "dropped = signing_params([name for name, _ in query])",
        'dropped = signing_params([name for name, _ in query]) | {"token"}',
        ("tests/test_keys.py::"
         "test_lone_parameters_named_like_signatures_are_part_of_the_address",),
    ),  # fmt: skip
    Mutation(
        "task-retries-unpinned",
        "Prefect's default retries never re-run a paid task",
        "prefect_runway/tasks.py",
        '    "retries": 0,\n',
        "",
        (TASKS + "test_prefect_task_defaults_set_before_import_never_pay_again",),
    ),
    Mutation(
        "task-cache-policy-unpinned",
        "no Prefect cache answers in place of the engine",
        "prefect_runway/tasks.py",
        '    "cache_policy": NO_CACHE,\n',
        "",
        (TASKS + "test_an_explicit_resubmit_pays_each_time_it_is_asked",),
    ),
    Mutation(
        "budget-not-enforced",
        "a batch over budget is refused before any POST",
        "prefect_runway/tasks.py",
        "if budget is not None and estimated > budget:",
        "if False:",
        (TASKS + "test_budget_is_checked_before_any_post",),
    ),
    Mutation(
        "wire-keeps-unset-fields",
        "the wire body is exactly what was given",
        "prefect_runway/api/models.py",
        'self.model_dump(by_alias=True, exclude_none=True, mode="json")',
        'self.model_dump(by_alias=True, exclude_none=False, mode="json")',
        ("tests/test_models.py::test_valid_requests",),
    ),
    # -- create outcomes by evidence (faults after creation) --------------------------------
    Mutation(
        "gateway-5xx-as-not-created",
        "a 5xx without the API's word is no evidence that nothing was created",
        "prefect_runway/api/client.py",
        "if 400 <= status <= 499 and status not in (408, 499):",
        "if 400 <= status <= 599 and status not in (408, 499):",
        (TABLE + "[created:502-unknown-1]", TABLE + "[created:524-unknown-1]"),
    ),
    Mutation(
        "bare-503-as-not-created",
        "a 503 says 'not created' only with the API's error body or Retry-After",
        "prefect_runway/api/client.py",
        'if status == 503 and (api_body or response.headers.get("retry-after")):',
        "if status == 503:",
        (TABLE + "[created:503-unknown-1]",),
    ),
    Mutation(
        "wrapped-5xx-as-not-created",
        "a proxy's wrapped 5xx code in a 200 is an unknown outcome",
        "prefect_runway/api/client.py",
        "refused = isinstance(code, int) and 400 <= code <= 499",
        "refused = code is not None",
        (TABLE + "[created:wrapped_error-unknown-1]",),
    ),
    Mutation(
        "sent-request-as-not-sent",
        "only errors before sending (connect, TLS) mean nothing was created",
        "prefect_runway/api/client.py",
        "sent_nothing = isinstance(sent_error, _NOT_SENT)",
        "sent_nothing = sent_error is not None",
        (TABLE + "[created:drop-unknown-1]", TABLE + "[created:truncate-unknown-1]",
         TABLE + "[created:slow-unknown-1]"),
    ),  # fmt: skip
    Mutation(
        "unknown-retried-without-permission",
        "an unknown attempt is retried only when retry_lost_responses allows it",
        "prefect_runway/api/client.py",
        "            if not self.retry_lost_responses:\n                return None\n"
        "        elif not error.transient:",
        "            pass\n        elif not error.transient:",
        (OUTCOMES + "test_task_after_creation_fault_not_retried_is_held_unknown[502]",
         OUTCOMES + "test_flow_twenty_images_with_gateway_faults_after_creation_held"),
    ),  # fmt: skip
    Mutation(
        "unreadable-time-costs-the-id",
        "a creation time that cannot be read never costs the answer its ID",
        "prefect_runway/api/models.py",
        "        except (OverflowError, OSError, ValueError):\n            return None",
        "        except ZeroDivisionError:\n            return None",
        (OUTCOMES + "test_an_unreadable_field_never_costs_the_id",),
    ),
    Mutation(
        "timestamps-in-seconds-only",
        "creation times in ms, us and ns are read, never fatal",
        "prefect_runway/api/models.py",
        "for _ in range(3):  # ns -> us -> ms -> s",
        "for _ in range(0):  # ns -> us -> ms -> s",
        (OUTCOMES + "test_creation_times_in_any_unit_are_read",),
    ),
    Mutation(
        "unknown-fields-dropped",
        "fields of the answer this client does not read are kept",
        "prefect_runway/api/models.py",
        "            extra=extra,\n",
        "            extra={},\n",
        (OUTCOMES + "test_an_unreadable_field_never_costs_the_id",),
    ),
    Mutation(
        "unreadable-answer-not-kept",
        "an answer nobody could read is kept on the unknown record",
        "prefect_runway/ledger/engine.py",
        '"answer": getattr(exc, "answer", None),',
        '"answer": None,',
        (OUTCOMES + "test_task_after_creation_fault_not_retried_is_held_unknown[malformed]",),
    ),
    Mutation(
        "answer-unredacted",
        "a kept answer holds no URL signature or key",
        "prefect_runway/api/client.py",
        "text = _URL.sub(lambda m: redact_url(m.group(0)), text)",
        "pass",
        (OUTCOMES + "test_an_unreadable_answer_is_kept_redacted_and_truncated",),
    ),
    Mutation(
        "plain-exception-keeps-intent",
        "a POST that sent nothing removes its intent, whatever the exception's type",
        "prefect_runway/ledger/engine.py",
        "if create_outcome(exc) is CreateOutcome.NOT_CREATED:",
        "if isinstance(exc, RunwayError) and create_outcome(exc) is CreateOutcome.NOT_CREATED:",
        (OUTCOMES + "test_engine_a_retired_model_leaves_no_intent_so_no_hold",),
    ),
    Mutation(
        "possible-duplicate-not-persisted",
        "the possible_duplicate flag is kept in the ledger",
        "prefect_runway/ledger/engine.py",
        '"possible_duplicate": row.possible_duplicate,',
        '"possible_duplicate": False,',
        (OUTCOMES + "test_the_flag_of_a_resubmitted_unknown_outcome_is_persisted",),
    ),
    Mutation(
        "lock-release-error-fails-row",
        "a lock-release error never changes a paid row",
        "prefect_runway/ledger/engine.py",
        "except Exception as exc:  # e.g. Redis unreachable",
        "except ZeroDivisionError as exc:  # e.g. Redis unreachable",
        (OUTCOMES + "test_a_lock_release_error_never_changes_a_paid_row",),
    ),
    # -- several machines: Redis locks, S3 records, settings --------------------------------
    Mutation(
        "redis-lock-never-expires",
        "every Redis lock carries an expiry",
        "prefect_runway/ledger/redis_locks.py",
        "self.client.set(name, holder, nx=True, px=ms)",
        "self.client.set(name, holder, nx=True)",
        (MULTIHOST + "test_redis_locks_expire_renew_and_release_only_for_their_holder",),
    ),
    Mutation(
        "redis-release-any-holder",
        "a Redis lock is released by its holder only",
        "prefect_runway/ledger/redis_locks.py",
        "  return redis.call('del', KEYS[1])\nend\nreturn 0",
        "end\nreturn redis.call('del', KEYS[1])",
        (MULTIHOST + "test_redis_locks_expire_renew_and_release_only_for_their_holder",),
    ),
    Mutation(
        "redis-renew-any-holder",
        "a Redis lock is renewed by its holder only",
        "prefect_runway/ledger/redis_locks.py",
        "  return redis.call('pexpire', KEYS[1], ARGV[2])\nend\nreturn 0",
        "end\nreturn redis.call('pexpire', KEYS[1], ARGV[2])",
        (MULTIHOST + "test_redis_locks_expire_renew_and_release_only_for_their_holder",),
    ),
    Mutation(
        "s3-intent-unconditional",
        "S3 intents are created only where no record exists",
        "prefect_runway/ledger/stores.py",
        'extra: dict[str, Any] = {"IfNoneMatch": "*"} if if_absent else {}',
        "extra: dict[str, Any] = {}",
        (MULTIHOST + "test_s3_records_create_only_where_absent_and_fail_closed",),
    ),
    Mutation(
        "s3-read-error-as-absent",
        "S3 reads fail closed: only NoSuchKey is no record",
        "prefect_runway/ledger/stores.py",
        "            if _code(exc) in _MISSING:\n                return None",
        "            if True:\n                return None",
        (MULTIHOST + "test_s3_records_create_only_where_absent_and_fail_closed",),
    ),
    Mutation(
        "redis-setting-ignored",
        "PREFECT_RUNWAY_LOCKS selects Redis",
        "prefect_runway/settings.py",
        'raw = _setting(LOCKS) or "file"',
        'raw = "file"',
        (MULTIHOST + "test_settings_pick_the_lock_manager_and_the_records",),
    ),
    # -- checks before paying, fail fast, ways out, after the POST -----------------------------
    Mutation(
        "unknown-model-allowed",
        "a model the official API does not have is refused before anything is sent",
        "prefect_runway/api/models.py",
        "if strict and model not in MODEL_RULES:",
        "if False:",
        (CHECKS + "test_a_retired_or_misspelt_model_is_refused_by_the_task_before_any_record",
         CHECKS + "test_the_cli_refuses_it_before_reading_any_input"),
    ),  # fmt: skip
    Mutation(
        "flow-model-checked-late",
        "the flows check the model before listing or reading anything",
        "prefect_runway/flows/common.py",
        'check_model(str(fields.get("model")), dialect)',
        "pass",
        (CHECKS + "test_the_flow_and_the_driver_refuse_it_before_listing",),
    ),
    Mutation(
        "refused-key-at-organization-ignored",
        "a refused key on the organization check stops the batch before any image",
        "prefect_runway/flows/s3_image_to_video.py",
        "raise stop_error(credentials, exc) from None  # every image would fail the same way",
        "return _Limits()",
        (CHECKS + "test_a_refused_key_stops_the_flow_before_anything_is_fetched_or_sent",
         CHECKS + "test_an_api_that_cannot_be_reached_stops_the_flow_in_seconds"),
    ),  # fmt: skip
    Mutation(
        "batch-goes-on-after-a-refused-key",
        "the first refused key (or unreachable API) stops the rest of the batch",
        "prefect_runway/ledger/batch.py",
        "if row.stops_batch and not stopped:",
        "if False:",
        (CHECKS + "test_without_an_organization_endpoint_the_first_refusal_stops_the_batch",),
    ),
    Mutation(
        "budget-ignores-resubmit-unknown",
        "a budget counts the held images resubmit_unknown pays for",
        "prefect_runway/flows/s3_image_to_video.py",
        'elif resubmit_unknown and record.state in ("intent", "unknown"):',
        "elif False:",
        (CHECKS + "test_a_budget_binds_resubmit_unknown",),
    ),
    Mutation(
        "adopt-replaces-a-recorded-task",
        "adopting never replaces a recorded task",
        "prefect_runway/ledger/adopt.py",
        "if earlier.state == \"submitted\" and earlier.task is not None:",
        "if False:",
        (ADOPT + "test_the_cli_adopts_and_never_replaces_a_recorded_task",),
    ),
    Mutation(
        "manifest-failure-hides-the-ids",
        "a failed manifest write names every new task ID",
        "prefect_runway/flows/s3_image_to_video.py",
        "            _log_ids_at_risk(new_ids, reason)\n            ids = ",
        "            raise\n            ids = ",
        (AFTER + "test_a_failed_manifest_write_fails_the_run_with_every_new_task_id",),
    ),
    Mutation(
        "storage-error-as-rejection",
        "an unreadable object fails its image (and the run), never a rejection",
        "prefect_runway/s3/objects.py",
        "        raise ImageSourceError(\n            f\"{_explain(exc, obj.uri)}; nothing",
        "        raise ImageRejectedError(\n            f\"{_explain(exc, obj.uri)}; nothing",
        (AFTER + "test_unreadable_objects_fail_the_image_and_the_run_and_are_retried",),
    ),
    # -- waiting: patient and truthful --------------------------------------------------
    Mutation(
        "wait-404-grace-from-start",
        "a 404 grace counts from the first 404 of a run, not from the start of the wait",
        "prefect_runway/api/client.py",
        "                self.missing_since = now\n",
        "                self.missing_since = self.deadline - self.timeout\n",
        (WAITING + "test_404s_early_and_mid_wait_are_no_verdict_every_task_succeeds",),
    ),
    Mutation(
        "wait-404-run-not-reset",
        "an answer ends a run of 404s",
        "prefect_runway/api/client.py",
        "self.missing_since, self.failures, self.last_error = None, 0, None",
        "self.failures, self.last_error = 0, None",
        (WAITING + "test_404s_early_and_mid_wait_are_no_verdict_every_task_succeeds",),
    ),
    Mutation(
        "wait-lost-at-first-404",
        "a task is not lost before its grace",
        "prefect_runway/api/client.py",
        "            if missing >= self.grace:\n",
        "            if True:\n",
        (WAITING + "test_a_task_that_stays_404_is_lost_after_the_grace_and_not_before",),
    ),
    Mutation(
        "wait-never-lost",
        "a task 404 past its grace is lost, never pending forever",
        "prefect_runway/api/client.py",
        "            if missing >= self.grace:\n",
        "            if False:\n",
        (WAITING + "test_a_task_that_stays_404_is_lost_after_the_grace_and_not_before",),
    ),
    Mutation(
        "get-500-not-retried",
        "every 5xx of a GET is retried, 500 included",
        "prefect_runway/api/client.py",
        "error.idempotent = True  # a read",
        "pass  # a read",
        (WAITING + "test_503_and_500_bursts_are_retried_until_the_deadline_zero_errors",
         WAITING + "test_a_single_500_on_a_poll_is_retried_by_the_sync_client_too"),
    ),  # fmt: skip
    Mutation(
        "wait-gives-up-on-transient",
        "a transient poll failure is polled again until the deadline",
        "prefect_runway/api/client.py",
        "        if not error.transient:\n            raise error\n        self.failures += 1",
        "        raise error\n        self.failures += 1",
        (WAITING + "test_503_and_500_bursts_are_retried_until_the_deadline_zero_errors",),
    ),
    Mutation(
        "wait-backoff-past-deadline",
        "a backoff longer than what is left still polls on the deadline",
        "prefect_runway/api/client.py",
        "            delay = min(delay, max(remaining, self.interval))",
        "            pass",
        (WAITING + "test_a_permanent_5xx_ends_at_the_deadline_naming_the_last_failure",),
    ),
    Mutation(
        "bad-task-id-aborts-wait",
        "one bad task ID is one error row",
        "prefect_runway/api/client.py",
        "            raise RunwayInvalidTaskIdError(",
        "            raise ValueError(",
        (WAITING + "test_a_malformed_id_among_good_ones_is_one_error_row",),
    ),
    Mutation(
        "progress-counts-failures-as-done",
        "the progress bar is the share that succeeded",
        "prefect_runway/tasks.py",
        "100.0 * succeeded / total,",
        "100.0 * len(outcomes) / total,",
        (WAITING + "test_progress_artifact_counts_each_outcome_read_back_from_prefect",),
    ),
    Mutation(
        "retry-warning-plain-logger",
        "the client's retry warnings go to the run's logger inside a run",
        "prefect_runway/api/client.py",
        'log(logger, logging.WARNING, "%s; retry %d in %.2fs", error, attempt, delay)',
        'logger.warning("%s; retry %d in %.2fs", error, attempt, delay)',
        (WAITING + "test_client_retry_warnings_reach_the_run_logger_and_a_plain_logger_outside",),
    ),
    Mutation(
        "runlog-never-in-run",
        "runlog.log finds the run it is called in",
        "prefect_runway/runlog.py",
        'if "prefect.context" in sys.modules:',
        "if False:",
        (WAITING + "test_client_retry_warnings_reach_the_run_logger_and_a_plain_logger_outside",
         WAITING + "test_progress_artifact_counts_each_outcome_read_back_from_prefect"),
    ),  # fmt: skip
    # -- delivery: history, generations, claims, complete videos --------------------------------
    Mutation(
        "history-not-carried",
        "an intent over an earlier record keeps every task the key ever had",
        "prefect_runway/ledger/engine.py",
        "                history=_history(earlier),\n",
        "                history=[],\n",
        (DELIVERY + "test_a_collector_racing_a_resubmission_keeps_both_generations",),
    ),
    Mutation(
        "generation-dropped",
        "a new task for a source keeps the one it replaces in generations",
        "prefect_runway/s3/manifest.py",
        "generations = [g for g in generations if g.task_id != new_task] + [replaced]",
        "generations = [g for g in generations if g.task_id != new_task]",
        (MANIFEST + "test_generations_are_kept_restored_and_collected_separately",
         DELIVERY + "test_a_settings_change_keeps_the_first_generation_and_collects_both"),
    ),  # fmt: skip
    Mutation(
        "stale-collection-dropped",
        "a collector's result for an earlier task goes to that generation",
        "prefect_runway/s3/manifest.py",
        "            generations = _put_generation(generations, collected_for, found)\n",
        "            pass\n",
        (MANIFEST + "test_generations_are_kept_restored_and_collected_separately",),
    ),
    Mutation(
        "failed-run-overwrites",
        "a run that made no task never overwrites a row that has one",
        "prefect_runway/s3/manifest.py",
        'if self.task_id and "task_id" not in changes and changes.get("status") in (',
        'if False and "task_id" not in changes and changes.get("status") in (',
        (MANIFEST + "test_a_failed_resubmission_keeps_the_known_task",
         DELIVERY + "test_a_failing_run_never_overwrites_a_generation_that_succeeded"),
    ),  # fmt: skip
    Mutation(
        "rerun-erases-fields",
        "a rerun of the same generation never erases its fields (transport)",
        "prefect_runway/s3/manifest.py",
        "                if name in changes and changes[name] is None:",
        "                if False:",
        (MANIFEST + "test_a_rerun_keeps_the_transport_of_its_generation",),
    ),
    Mutation(
        "claim-skipped",
        "a video is copied only by the run whose conditional create of its claim won",
        "prefect_runway/flows/collect_videos.py",
        "    found = claims.take(item.task_id)\n    if found is not None and",
        "    found = None\n    if found is not None and",
        (DELIVERY + "test_two_collectors_started_at_once_copy_and_tell_each_video_once",),
    ),
    Mutation(
        "done-marker-ignored",
        "a published video's done marker records it without copying or telling it again",
        "prefect_runway/flows/collect_videos.py",
        '    if found is not None and found.get("state") == "done":\n',
        "    if False:\n",
        (COLLECT + "test_a_lost_manifest_write_does_not_download_again",),
    ),
    Mutation(
        "unsized-download-trusted",
        "a download without a Content-Length is checked against a second request's length",
        "prefect_runway/api/client.py",
        "expected = announced if announced is not None else self.content_length(url)",
        "expected = announced if announced is not None else size",
        (DELIVERY + "test_a_truncated_download_is_never_published",),
    ),
    Mutation(
        "copy-after-the-wait",
        "each video is copied as soon as its task is seen SUCCEEDED, not after the wait",
        "prefect_runway/flows/collect_videos.py",
        '        if item is not None and task_state.status.value == "SUCCEEDED":',
        "        if False:",
        (DELIVERY + "test_each_video_is_copied_as_soon_as_its_task_finishes",),
    ),
    Mutation(
        "copy-failure-keeps-claim",
        "a failed copy releases its claim, so the next run retries it at once",
        "prefect_runway/flows/collect_videos.py",
        "        claims.release(item.task_id)  # the next try",
        "        pass  # the next try",
        (COLLECT + "test_a_failed_copy_fails_only_its_row_and_the_next_run_retries_it",),
    ),
    Mutation(
        "collector-grace-from-wait",
        "the collector's 404 grace is the credentials' not_found_grace, not its wait",
        "prefect_runway/flows/collect_videos.py",
        "not_found_grace=credentials.not_found_grace, on_update",
        "not_found_grace=min(wait_seconds, 10.0), on_update",
        (COLLECT + "test_a_deleted_task_is_missing_then_lost_across_runs",),
    ),
    Mutation(
        "missing-mark-not-carried",
        "the first 404 seen is carried across collector runs, so a deleted task ends LOST",
        "prefect_runway/flows/collect_videos.py",
        "missing_since=row.missing_since if mine else None,",
        "missing_since=None,",
        (COLLECT + "test_a_deleted_task_is_missing_then_lost_across_runs",),
    ),
    Mutation(
        "missing-mark-not-cleared",
        "a normal answer clears a task's first-404 mark (a blip is never lost)",
        "prefect_runway/flows/collect_videos.py",
        "updates.append(ManifestRow(**base, missing_since=None))",
        "pass",
        (COLLECT + "test_a_404_blip_clears_and_is_never_lost",),
    ),
    Mutation(
        "claims-never-cleaned",
        "claims of tasks the manifest records finished are deleted",
        "prefect_runway/flows/collect_videos.py",
        "        claims.clean(manifest)  #",
        "        pass  #",
        (COLLECT + "test_collect_puts_every_video_in_s3_and_updates_the_manifest",),
    ),
    Mutation(
        "claim-without-manifest-recheck",
        "a new claim is checked against the manifest, so a deleted marker never means twice",
        "prefect_runway/flows/collect_videos.py",
        "        if found is not None or self.manifest is None:\n            return found",
        "        if True:\n            return found",
        (DELIVERY + "test_a_collector_that_read_the_rows_before_another_finished_them_copies"
         "_nothing",),
    ),
    Mutation(
        "ledger-history-not-in-manifest",
        "every task of the ledger's record of a source's key is a generation in the manifest",
        "prefect_runway/s3/manifest.py",
        '            for a in history if a["task_id"] != data.get("task_id")',
        "            for a in history if False",
        (MANIFEST + "test_the_ledgers_history_becomes_generations_in_order_never_twice",
         DELIVERY + "test_a_resubmission_whose_manifest_write_was_lost_stays_in_the_manifest"),
    ),
    Mutation(
        "history-generation-twice",
        "a writer's history never adds the current task as a generation too",
        "prefect_runway/s3/manifest.py",
        "            if earlier.task_id != new_task:  # merged in",
        "            if True:  # merged in",
        (MANIFEST + "test_the_ledgers_history_becomes_generations_in_order_never_twice",),
    ),
    Mutation(
        "final-cost-dropped",
        "an ended task's final cost (the API's cost) is recorded in the manifest",
        "prefect_runway/flows/collect_videos.py",
        '            base["credits"] = cost',
        "            pass",
        (COLLECT + "test_collect_puts_every_video_in_s3_and_updates_the_manifest",),
    ),
    Mutation(
        "failed-task-cost-dropped",
        "a FAILED task's final cost reaches the collector with its failure",
        "prefect_runway/api/client.py",
        "            failure_code=task.failure_code,\n            cost=cost,",
        "            failure_code=task.failure_code,",
        (COLLECT + "test_collect_puts_every_video_in_s3_and_updates_the_manifest",),
    ),
    # -- every task endpoint -------------------------------------------------------------
    Mutation(
        "misspelt-field-sent",
        "a field no variant of the endpoint has is refused before anything is sent",
        "prefect_runway/api/requests.py",
        "        if unknown:  # a misspelt field would be dropped",
        "        if False:  # a misspelt field would be dropped",
        (GENERATION + "test_a_bad_request_names_the_field_and_posts_nothing",),
    ),
    Mutation(
        "key-ignores-inputs",
        "the key covers the identity of every input of a request",
        "prefect_runway/ledger/keys.py",
        "    body = _with_identities(request.body, assets)\n",
        "    body = _with_identities(request.body, {p: 'same' for p in assets})\n",
        (GENERATION + "test_the_key_covers_every_input_and_ignores_signatures",),
    ),
    Mutation(
        "s3-input-keyed-by-name",
        "an S3 input is keyed by its ETag, so a new version pays and an unchanged one does not",
        "prefect_runway/tasks.py",
        "            known[path] = (await asyncio.to_thread(head_object, s3_client(), bucket, key))"
        ".identity",
        "            known[path] = uri",
        (GENERATION + "test_s3_and_file_inputs_are_keyed_by_etag_and_content_and_sent_resolved",),
    ),
    Mutation(
        "unreadable-sidecar-is-absent",
        "a sidecar that cannot be read fails its image: never submitted without it",
        "prefect_runway/table.py",
        '        if code in ("NoSuchKey", "404", "NotFound"):\n            return None\n',
        "        return None\n",
        ("tests/test_sidecars.py::test_a_sidecar_that_cannot_be_read_fails_its_image",),
    ),
    Mutation(
        "cancelled-post-gives-back",
        "a POST cancelled in flight keeps its generation and reservation: a task may exist",
        "prefect_runway/ledger/engine.py",
        "            except Exception:  # certainly nothing created; a cancellation mid-POST",
        "            except BaseException:  # certainly nothing created; a cancellation mid-POST",
        (BUDGET + "test_a_post_cancelled_in_flight_keeps_its_generation_taken",),
    ),
    Mutation(
        "shared-budget-store-error-is-plenty",
        "a shared budget that could not be read stops the model: never 'plenty left'",
        "prefect_runway/ledger/budget.py",
        "        if model in self._broken:  # its count could not be read: never \"plenty left\"\n"
        "            raise BudgetStoreError(self._broken[model])\n",
        "",
        (BUDGET + "test_a_failing_shared_store_fails_closed",),
    ),
    Mutation(
        "shared-budget-never-given-back",
        "a POST that provably created nothing gives its shared reservation back",
        "prefect_runway/ledger/engine.py",
        "        self.quota.give_back(model)\n        self._settle(held, created=False)\n",
        "        self.quota.give_back(model)\n",
        (BUDGET + "test_a_post_that_created_nothing_gives_its_generation_back",),
    ),
    Mutation(
        "shared-budget-ignores-other-runs",
        "every run counts what the others reserved since its reading of the organization",
        "prefect_runway/ledger/budget.py",
        '    used = float(state.get("reserved", 0)) - float(state.get("returned", 0)) - base\n',
        "    used = 0.0\n",
        (BUDGET + "test_two_runs_started_together_submit_ten_in_all_with_file_locks",
         BUDGET + "test_two_s3_prefix_flow_runs_started_together_share_the_daily_limit"),
    ),
    # -- cancellation ---------------------------------------------------------------------
    Mutation(
        "cancel-deletes-finished",
        "only an unfinished task is cancelled (a DELETE deletes a finished one's output)",
        "prefect_runway/cancellation.py",
        "if current.status.value not in _UNFINISHED:",
        "if False:",
        (CANCEL + "test_cancel_leaves_a_finished_task_as_it_is",),
    ),
    Mutation(
        "cancel-not-noted",
        "a task cancelled is noted CANCELLED, with its cost, in its ledger record",
        "prefect_runway/cancellation.py",
        "if (key := tasks.get(r.task_id))], log,",
        "if (key := None)], log,",
        (CANCEL + "test_ctrl_c_with_cancel_on_interrupt_cancels_and_notes_the_ledger",),
    ),
    Mutation(
        "pipeline-no-cancel-hook",
        "a cancelled pipeline run cancels the tasks it waits for",
        "prefect_runway/flows/pipeline.py",
        '@flow(name="runway-pipeline", on_cancellation=[cancel_in_flight])',
        '@flow(name="runway-pipeline")',
        (CANCEL + "test_a_cancelled_pipeline_run_cancels_its_tasks",),
    ),
    Mutation(
        "collect-records-nothing-in-flight",
        "collect_videos publishes the tasks it waits for, where its hook finds them",
        "prefect_runway/flows/collect_videos.py",
        "        await record_in_flight({item.task_id: item.cache_key for item in todo})",
        "        pass",
        (CANCEL + "test_collect_videos_records_what_it_waits_for_and_its_hook_cancels_them",),
    ),
    Mutation(
        "interrupt-ignores-flag",
        "--cancel-on-interrupt cancels on Ctrl-C without asking",
        "prefect_runway/cli.py",
        'cancel = bool(getattr(args, "cancel_on_interrupt", False))',
        "cancel = False",
        (CANCEL + "test_ctrl_c_with_cancel_on_interrupt_cancels_and_notes_the_ledger",),
    ),
    Mutation(
        "unlistable-ledger-is-empty",
        "a ledger whose listing fails is a read error, never a ledger with no spend",
        "prefect_runway/ledger/records.py",
        '            raise RecordReadError(\n                f"Cannot list the submission records',
        '            return []\n            raise RecordReadError(\n'
        '                f"Cannot list the submission records',
        (RECONCILE + "test_a_failing_listing_is_a_read_error_not_an_empty_ledger",),
    ),
    Mutation(
        "unreadable-record-skipped",
        "an unreadable record fails the reconciliation, never counted as no spend",
        "prefect_runway/ledger/records.py",
        "        found = await asyncio.gather(*(one(key) for key in await self.keys()))\n",
        "        found = [r for r in await asyncio.gather(*(one(key) for key in await self.keys()),"
        " return_exceptions=True) if not isinstance(r, BaseException)]\n",
        (RECONCILE + "test_an_unreadable_record_fails_the_reconciliation_naming_it",),
    ),
    Mutation(
        "usage-forgets-deleted-tasks",
        "the emulator's usage counts every task it created, deleted ones too",
        "prefect_runway/testing/emulator/state.py",
        "            for t in self._history:\n",
        "            for t in self._tasks.values():\n",
        (RECONCILE + "test_usage_counts_every_task_on_its_utc_day_net_of_refunds",),
    ),
    Mutation(
        "usage-keeps-refunds",
        "the emulator's usage nets a cancelled task's refund",
        "prefect_runway/testing/emulator/state.py",
        'if start <= day < before and t.status(now) not in ("FAILED", "CANCELLED"):',
        "if start <= day < before:",
        (RECONCILE + "test_usage_counts_every_task_on_its_utc_day_net_of_refunds",),
    ),
    Mutation(
        "emulator-reuses-port",
        "a fresh emulator never gets an earlier one's port (a ledger takes it for that account)",
        "prefect_runway/testing/emulator/app.py",
        "                    if given not in _PORTS_GIVEN:\n",
        "                    if True:\n",
        ("tests/test_emulator.py::test_a_fresh_emulator_never_gets_an_earlier_ones_port",),
    ),
    # -- the manifest as a table ------------------------------------------------------------
    Mutation(
        "stale-table-view",
        "a table view written from an older manifest is written again from the latest",
        "prefect_runway/s3/manifest_table.py",
        '            if s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag:\n',
        "            if True:\n",
        ("tests/test_manifest_table.py::"
         "test_views_from_a_stale_version_are_written_again_from_the_latest",),
    ),
    Mutation(
        "table-view-listed-as-input",
        "the manifest's table views beside the images are never listed as inputs",
        "prefect_runway/s3/objects.py",
        'if not item["Key"].endswith(("/", *MANIFEST_FILES))',
        'if not item["Key"].endswith(("/", MANIFEST_NAME))',
        ("tests/test_manifest_table.py::test_the_views_beside_the_images_are_never_inputs",),
    ),
    Mutation(
        "first-output-only",
        "the manifest lists every output of a task with several",
        "prefect_runway/flows/collect_videos.py",
        'outputs=copy.get("outputs"), failure=None',
        "outputs=None, failure=None",
        ("tests/test_manifest_table.py::"
         "test_a_table_batch_with_history_and_several_outputs_reads_back_as_parquet",),
    ),
]

IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"
)


def _env(scratch: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}


def _pytest(scratch: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=180",
               "-o", "addopts=", *tests]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=scratch, env=_env(scratch), capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return -1, "timed out", time.monotonic() - started
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def _summary(output: str) -> str:
    """'failed/run' from pytest's last line, e.g. '2/3 failed'."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    if not lines:
        return "no tests ran"
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", lines[-1])}
    failed = counts.get("failed", 0) + counts.get("error", 0)
    return f"{failed}/{failed + counts.get('passed', 0)} failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip running the selected tests unmutated first")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutation")
    args = parser.parse_args(argv)

    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutations: {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.guard}\n    {m.path}\n    " + "\n    ".join(m.tests))
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="prefect-runway-mutate-"))
    try:
        shutil.copytree(ROOT, scratch, ignore=IGNORE, dirs_exist_ok=True)
        return _run(scratch, chosen, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(scratch: Path, chosen: list[Mutation], args: argparse.Namespace) -> int:
    originals = {m.path: (scratch / m.path).read_text() for m in chosen}
    stale = [m.name for m in chosen if originals[m.path].count(m.old) != 1]
    if stale:
        print(f"stale mutations (their text is not found exactly once): {', '.join(stale)}")
        return 2
    where = subprocess.run(
        [sys.executable, "-c", "import prefect_runway, tests; print(prefect_runway.__file__)"],
        cwd=scratch, env=_env(scratch), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path(where).is_relative_to(scratch):
        print(f"the scratch copy is not what runs: prefect_runway comes from {where}")
        return 2
    if not args.no_baseline:
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        code, output, seconds = _pytest(scratch, tests, args.timeout * 2)
        print(f"baseline: {len(tests)} tests, {_summary(output)} ({seconds:.0f}s)", flush=True)
        if code != 0:
            print(output[-4000:])
            print("the selected tests fail without any mutation: fix them first")
            return 2

    rows = []
    for m in chosen:
        target = scratch / m.path
        target.write_text(originals[m.path].replace(m.old, m.new))
        try:
            code, output, seconds = _pytest(scratch, m.tests, args.timeout)
        finally:
            target.write_text(originals[m.path])
        verdict = {0: "SURVIVED", 1: "killed"}.get(code, f"error ({code})")
        rows.append((m, verdict, _summary(output), seconds))
        print(f"{verdict:9} {m.name} ({_summary(output)}, {seconds:.0f}s)", flush=True)
        if code not in (0, 1):
            print(output[-2000:])

    print("\n| mutation | guard broken | tests | result |\n|---|---|---|---|")
    for m, verdict, summary, _ in rows:
        print(f"| `{m.name}` | {m.guard} | {summary} | {verdict} |")
    killed = sum(verdict == "killed" for _, verdict, _, _ in rows)
    print(f"\n{killed} of {len(rows)} mutations killed")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
