"""HTTP layer of the emulator: a stdlib ``ThreadingHTTPServer`` and its request handler.

The handler is deliberately lean (no per-request logging) and speaks HTTP/1.1 with
keep-alive and a ``Content-Length`` on every response that has a body. Fault injection can
drop a connection without answering, which is why this is built on raw stdlib sockets.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .faults import Faults
from .fetch import check_image_url
from .mp4 import VIDEO_MP4
from .multipart import MAX_UPLOAD_BYTES, MB, parse_form, sniff_upload
from .samples import WAV, png
from .state import DailyLimitExceeded, EmulatorState, Task, iso_utc
from .usage import usage_range
from .validation import (
    TASK_ENDPOINTS,
    ValidatedSubmit,
    ValidatedTask,
    validate_submit,
    validate_task,
)

logger = logging.getLogger(__name__)

RUNWAY_VERSION = "2024-11-06"
PROXY_PREFIX = "/runwayml"
_TASK_PATH = re.compile(r"/v1/tasks/([^/]+)")
_VIDEO_PATH = re.compile(r"/_emulator/videos/([^/]+)\.mp4")
_MEDIA_PATH = re.compile(r"/_emulator/(images|audio)/([^/]+?)(?:-(\d+))?\.(png|wav)")
IMAGE_PNG = png(64, 64)
"""Every image task's output: a small valid PNG."""

_UPLOAD_PATH = re.compile(r"/_emulator/uploads/([0-9a-f]+)")
_MULTIPART_OVERHEAD = MB
MAX_JSON_BYTES = 32 * MB
"""The emulator's own cap on a JSON body (not a Runway limit; a data URI is at most 5 MB)."""


@dataclass
class ServerConfig:
    """Settings the request handler reads (immutable while serving)."""

    dialect: str
    api_key: str | None
    proxy_submit_shape: str
    proxy_not_found_seconds: float
    fetch_urls: bool
    allow_http_loopback: bool
    output_url_ttl: float
    root_url: str = ""


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server holding the emulator state; tracks connections to close them."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        config: ServerConfig,
        state: EmulatorState,
    ) -> None:
        super().__init__(address, _Handler)
        self.config = config
        self.state = state
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.stopping = False

    @property
    def http(self) -> httpx.Client:
        """The client for HEAD checks, created on first use (building it loads CA files)."""
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(trust_env=False)
            return self._http

    def track(self, conn: socket.socket, add: bool) -> None:
        """Add or remove an open client connection."""
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection so handler threads end."""
        with self._connections_lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def server_close(self) -> None:
        """Close the listening socket, open connections and the HEAD-check client."""
        self.stopping = True
        super().server_close()
        self.close_connections()
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent about client disconnects; log anything else at debug level."""
        logger.debug("emulator connection error from %s", client_address, exc_info=True)


class _Drop(Exception):
    """Raised to drop the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    # -- plumbing -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def version_string(self) -> str:
        """Return the ``Server`` header value."""
        return "RunwayEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _read_body(self, limit: int | None = None) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if limit is not None and length > limit:
            raise OverflowError(length)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        head_only: bool = False,
    ) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head_only and status != 204:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, headers=headers)

    def _error(
        self,
        status: int,
        message: str,
        issues: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        api: bool = True,
    ) -> None:
        cfg = self.server.config
        if api and cfg.dialect == "proxy" and cfg.proxy_submit_shape == "wrapped":
            text = message
            if issues:
                text = f"{message}: " + "; ".join(str(i["message"]) for i in issues)
            payload: dict[str, Any] = {
                "code": status,
                "message": text,
                "request_id": str(uuid.uuid4()),
                "data": None,
            }
        else:
            payload = {"error": message}
            if issues is not None:
                payload["issues"] = issues
        self._json(status, payload, headers=headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _root_url(self) -> str:
        cfg = self.server.config
        host_header = self.headers.get("Host")
        if cfg.root_url.split("://", 1)[-1].startswith(("0.0.0.0", "[::]")) and host_header:
            return f"http://{host_header}"
        return cfg.root_url

    # -- routing ------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method)
        except _Drop:
            self._drop()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # pragma: no cover - a bug in the emulator, answered as a 500
            logger.exception("emulator handler failed")
            self.close_connection = True
            try:
                self._json(500, {"error": "Internal emulator error"})
            except OSError:
                pass

    def _route(self, method: str) -> None:
        cfg = self.server.config
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/_emulator/"):
            self._route_control(method, path, parts.query)
            return
        prefix = PROXY_PREFIX if cfg.dialect == "proxy" else ""
        if not path.startswith(prefix + "/v1/"):
            self._read_body_quietly()
            self._error(404, "Not found", api=False)
            return
        api_path = path[len(prefix) :]
        if api_path == "/v1/image_to_video":
            self._endpoint(method, ("POST",), self._submit)
        elif api_path in TASK_ENDPOINTS:
            self._endpoint(method, ("POST",), lambda m: self._submit(m, api_path))
        elif api_path == "/v1/organization":
            self._endpoint(method, ("GET",), self._organization)
        elif api_path == "/v1/organization/usage":
            self._endpoint(method, ("POST",), self._organization_usage)
        elif api_path == "/v1/uploads" and cfg.dialect == "runway":
            self._endpoint(method, ("POST",), self._create_upload)
        elif (match := _TASK_PATH.fullmatch(api_path)) is not None:
            allowed = ("GET", "DELETE") if cfg.dialect == "runway" else ("GET",)
            task_id = match.group(1)
            self._endpoint(method, allowed, lambda m: self._task(m, task_id))
        else:
            self._read_body_quietly()
            self._error(404, "Not found")

    def _read_body_quietly(self) -> None:
        try:
            self._read_body(limit=MAX_UPLOAD_BYTES)
        except (ValueError, OverflowError):
            self.close_connection = True

    def _endpoint(self, method: str, allowed: tuple[str, ...], handler: Any) -> None:
        if method not in allowed:
            self._read_body_quietly()
            self._error(405, "Method not allowed", headers={"Allow": ", ".join(allowed)})
            return
        latency = self.server.state.faults.latency
        if latency > 0:
            time.sleep(latency)
        handler(method)

    def _authorize(self, count: bool = False) -> str | None:
        """Return the rejection reason (``auth`` or ``version``) after answering, else None.

        With `count`, the rejection is counted in the stats *before* the answer goes out, so
        a client that reads the stats after its answer always sees it (as for validation).
        """
        refusal = self._refusal()
        if refusal is None:
            return None
        status, message, reason = refusal
        if count:
            self.server.state.reject(reason)
        self._error(status, message)
        return reason

    def _refusal(self) -> tuple[int, str, str] | None:
        """(status, message, reason) when the key or the version header is refused."""
        cfg = self.server.config
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        ok = scheme.lower() == "bearer" and bool(token)
        if ok and cfg.api_key is not None:
            ok = hmac.compare_digest(token.encode(), cfg.api_key.encode())
        if not ok:
            return 401, "Invalid API key", "auth"
        version = self.headers.get("X-Runway-Version")
        if cfg.dialect == "runway":
            if version is None:
                return 400, "You must provide a X-Runway-Version header.", "version"
            if version != RUNWAY_VERSION:
                return 400, f"Unsupported API version: {version[:64]}.", "version"
        return None

    # -- API endpoints ------------------------------------------------------------------------

    def _submit(self, method: str, api_path: str | None = None) -> None:
        """Create a task: image-to-video (`api_path` None) or any other task endpoint."""
        state = self.server.state
        cfg = self.server.config
        try:
            raw: bytes | None = self._read_body(limit=MAX_JSON_BYTES)
        except (ValueError, OverflowError):
            self.close_connection = True
            raw = None
        proxy = cfg.dialect == "proxy"
        state.wait_at_gate(lambda: self.server.stopping)
        fault, scripted = state.draw_submit_fault(proxy)
        if fault is None:
            if self._authorize(count=True) is not None:
                return
        elif fault == "reset":
            raise _Drop
        elif fault == "hang":
            while state.hanging() and not self.server.stopping:
                time.sleep(0.05)
            raise _Drop
        else:
            self._answer_fault(fault)
            return
        body: Any = None
        if raw is not None:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                body = None
        if not isinstance(body, dict):
            state.reject("validation")
            self._error(400, "Invalid JSON body.")
            return
        result: ValidatedSubmit | ValidatedTask | list[Any]
        if api_path is None:
            result = validate_submit(
                body, state.upload_ready, cfg.allow_http_loopback, dialect=cfg.dialect
            )
        else:
            result = validate_task(api_path, body, state.upload_ready, cfg.allow_http_loopback)
        if isinstance(result, list):
            state.reject("validation")
            issues = [i.to_dict() for i in result]
            self._error(400, "Validation of body failed", issues=issues)
            return
        if cfg.fetch_urls and isinstance(result, ValidatedSubmit):  # image URLs only
            for url in result.urls_to_fetch:
                problem = check_image_url(self.server.http, url)
                if problem is not None:
                    state.reject("validation")
                    self._error(400, problem)
                    return
        try:
            task = state.create_task(body, result)
        except DailyLimitExceeded as exc:
            self._error(
                429,
                f"You have reached the maximum daily generations for {exc.model} "
                f"({exc.limit} per rolling 24 hours, maxDailyGenerations). "
                "Try again when the window frees.",
            )
            return
        if task is None:
            self._error(400, "You do not have enough credits to run this task.")
            return
        after = state.draw_after_create(scripted)
        if after is None:
            self._json(200, self._submit_payload(task))
        else:
            self._answer_after_create(task, after)

    def _answer_after_create(self, task: Task, kind: str) -> None:
        """Answer a submit whose task exists with the fault `kind` (see `Faults`)."""
        if kind == "drop":
            raise _Drop
        if kind.isdigit():  # a gateway's own page: no API error body, no Retry-After
            page = f"<html><head><title>{kind} gateway error</title></head><body>"
            page += "upstream answered late or broke (injected by the emulator)</body></html>"
            self._send(int(kind), page.encode(), content_type="text/html")
        elif kind == "truncate":
            body = json.dumps(self._submit_payload(task)).encode()
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            raise _Drop
        elif kind == "slow":
            deadline = time.monotonic() + self.server.state.faults.slow_seconds
            while time.monotonic() < deadline and not self.server.stopping:
                time.sleep(0.02)
            self._json(200, self._submit_payload(task))
        elif kind == "wrapped_error":
            self._json(200, {"code": 500, "message": "upstream channel error",
                             "request_id": str(uuid.uuid4()), "data": None})  # fmt: skip
        elif kind == "malformed":
            self._send(200, b"<html>oops: upstream answer lost</html>", content_type="text/html")
        elif kind == "noid":
            self._json(200, {"code": 200, "message": "success",
                             "request_id": str(uuid.uuid4()), "data": {}})  # fmt: skip
        else:
            self._json(200, self._submit_variant(task, kind))

    def _submit_variant(self, task: Task, kind: str) -> dict[str, Any]:
        """A 200 that carries the task's ID in one of a proxy's variants (`Faults`)."""
        wall = task.created_wall
        stamps: dict[str, Any] = {
            "ms": int(wall * 1e3), "us": int(wall * 1e6), "ns": int(wall * 1e9),
            "iso": iso_utc(wall),
        }  # fmt: skip
        if kind == "wrapped":
            return {"code": 200, "message": "success", "request_id": str(uuid.uuid4()),
                    "data": {"task_id": task.id, "task_status": "PENDING",
                             "created_at": int(wall), "updated_at": int(wall)}}  # fmt: skip
        payload = self._submit_payload(task)
        if kind == "extra":
            payload.update({"credits_used": task.credits, "queue": {"position": 3},
                            "model_version": "2026-11", "video": None})  # fmt: skip
            return payload
        inner = payload["data"] if isinstance(payload.get("data"), dict) else payload
        for name in ("created_at", "updated_at") if inner is not payload else ():
            inner[name] = stamps[kind]
        if inner is payload:
            payload["created_at" if "created_at" in payload else "createdAt"] = stamps[kind]
        return payload

    def _answer_fault(self, fault: str) -> None:
        state = self.server.state
        if fault == "429":
            headers = {"Retry-After": state.faults.retry_after_header()}
            self._error(429, "Too many requests (injected by the emulator).", headers=headers)
        elif fault.isdigit():  # a 5xx status with the API's JSON error body
            status = int(fault)
            self._error(status, f"Upstream unavailable (injected {status} by the emulator).")
        elif fault == "malformed":
            self._send(200, b"<html>oops</html>", content_type="text/html")
        else:  # wrapped_error
            self._json(
                200,
                {
                    "code": 500,
                    "message": "upstream channel error",
                    "request_id": str(uuid.uuid4()),
                    "data": None,
                },
            )

    def _submit_payload(self, task: Task) -> dict[str, Any]:
        cfg = self.server.config
        if cfg.dialect == "runway":
            if task.routing:
                return {"id": task.id, "routing": self._routing(task)}
            if not task.estimate:
                return {"id": task.id}
            return {"id": task.id, "estimatedCost": {"credits": task.credits}}
        if cfg.proxy_submit_shape == "wrapped":
            stamp = int(task.created_wall)
            return {
                "code": 200,
                "message": "success",
                "request_id": str(uuid.uuid4()),
                "data": {
                    "task_id": task.id,
                    "task_status": "PENDING",
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            }
        if cfg.proxy_submit_shape == "state":
            return {
                "id": task.id,
                "prompt": "",
                "state": "pending",
                "created_at": iso_utc(task.created_wall),
                "video": None,
            }
        return {"id": task.id}

    def _routing(self, task: Task) -> dict[str, Any]:
        """The Model Router's account of its choice (``/v1/generate/*``): a fixed model."""
        given = task.body.get("input")
        given = given if isinstance(given, dict) else {}
        resolved: dict[str, Any]
        if task.output == "video":
            resolved = {"duration": given.get("duration", 5), "ratio": "1280:720",
                        "resolution": given.get("resolution", "720p")}  # fmt: skip
        elif task.output == "image":
            resolved = {"aspectRatio": given.get("aspectRatio", "1:1"), "ratio": "1024:1024",
                        "resolution": given.get("resolution", "1k")}  # fmt: skip
        else:
            resolved = {"type": "speech" if given.get("voice") else "audio",
                        "voice": "preset" if given.get("voice") else "none"}  # fmt: skip
        return {
            "configId": str(task.body.get("configId", "")),
            "estimatedCost": {"credits": task.credits},
            "model": task.model,
            "provider": "runway",
            "resolvedInput": resolved,
            "resolvedSettings": {"optimizeFor": "quality", "priceCeiling": None},
        }

    def _outputs(self, task: Task, exp: int) -> list[str]:
        """The finished task's output URLs, by the kind its endpoint makes."""
        root = self._root_url()
        if task.output == "image":
            return [
                f"{root}/_emulator/images/{task.id}-{n}.png?exp={exp}"
                for n in range(task.output_count)
            ]
        if task.output == "audio":
            return [f"{root}/_emulator/audio/{task.id}.wav?exp={exp}"]
        return [f"{root}/_emulator/videos/{task.id}.mp4?exp={exp}"]

    def _task(self, method: str, task_id: str) -> None:
        state = self.server.state
        cfg = self.server.config
        state.count("polls" if method == "GET" else "cancels")
        if self._authorize() is not None:
            return
        if method == "DELETE":
            if state.cancel_or_delete(task_id):
                self._send(204)
            else:
                self._error(404, "Task not found.")
            return
        fault = state.draw_get_fault(task_id)
        if fault is not None and self._answer_get_fault(fault):
            return
        found = state.get_task(task_id)
        if found is None:
            self._error(404, "Task not found.")
            return
        task, status, now = found
        if cfg.dialect == "proxy" and now - task.created_at < cfg.proxy_not_found_seconds:
            self._error(404, "Task not found.")
            return
        self._json(200, self._task_payload(task, status, now))

    def _answer_get_fault(self, fault: str) -> bool:
        """Answer a poll with an injected fault; False when the real answer follows (``slow``)."""
        if fault == "reset":
            raise _Drop
        if fault == "404":
            self._error(404, "Task not found.")
            return True
        if fault.isdigit():
            status = int(fault)
            self._error(status, f"Upstream unavailable (injected {status} by the emulator).")
            return True
        deadline = time.monotonic() + self.server.state.faults.slow_seconds  # slow
        while time.monotonic() < deadline and not self.server.stopping:
            time.sleep(0.02)
        return False

    def _task_payload(self, task: Task, status: str, now: float) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": task.id,
            "status": status,
            "createdAt": iso_utc(task.created_wall),
        }
        if status in ("PENDING", "THROTTLED", "RUNNING"):
            payload["estimatedCost"] = {"credits": task.credits}
        if status == "RUNNING":
            gen = self.server.state.generation_seconds
            started = task.started_at if task.started_at is not None else now
            progress = (now - started) / gen if gen > 0 else 1.0
            payload["progress"] = round(min(max(progress, 0.0), 1.0), 4)
        elif status == "SUCCEEDED":
            exp = int(self.server.state.clock.time() + self.server.config.output_url_ttl)
            payload["output"] = self._outputs(task, exp)
            payload["cost"] = {"credits": task.credits}
        elif status == "FAILED":
            payload["failure"] = f"Generation failed ({task.fail_code})."
            payload["failureCode"] = task.fail_code
            payload["cost"] = {"credits": 0}
        elif status == "CANCELLED":
            payload["cost"] = {"credits": 0}
        return payload

    def _organization(self, method: str) -> None:
        state = self.server.state
        state.count("organization")
        if self._authorize() is not None:
            return
        self._json(200, state.organization())

    def _organization_usage(self, method: str) -> None:
        try:
            raw: bytes | None = self._read_body(limit=MAX_JSON_BYTES)
        except (ValueError, OverflowError):
            self.close_connection = True
            raw = None
        if self._authorize() is not None:
            return
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            body = None
        if raw is None or body is None:
            self._error(400, "Invalid JSON body.")
            return
        state = self.server.state
        found = usage_range(body, state.today())
        if isinstance(found, list):
            self._error(400, "Validation of body failed", issues=found)
            return
        self._json(200, state.usage(*found))

    def _create_upload(self, method: str) -> None:
        state = self.server.state
        try:
            raw: bytes | None = self._read_body(limit=MAX_JSON_BYTES)
        except (ValueError, OverflowError):
            self.close_connection = True
            raw = None
        if self._authorize() is not None:
            return
        try:
            body = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._error(400, "Invalid JSON body.")
            return
        issues = []
        filename = body.get("filename")
        if not isinstance(filename, str) or not filename.strip() or len(filename) > 255:
            issues.append({"path": ["filename"], "message": "filename must be a non-empty string."})
        if body.get("type") != "ephemeral":
            issues.append({"path": ["type"], "message": "type must be 'ephemeral'."})
        if issues:
            self._error(400, "Validation of body failed", issues=issues)
            return
        token = state.create_upload(str(filename))
        self._json(
            200,
            {
                "uploadUrl": f"{self._root_url()}/_emulator/uploads/{token}",
                "fields": {"key": token},
                "runwayUri": f"runway://uploads/{token}",
            },
        )

    # -- control endpoints --------------------------------------------------------------------

    def _route_control(self, method: str, path: str, query: str) -> None:
        state = self.server.state
        if path == "/_emulator/health" and method == "GET":
            self._json(200, {"ok": True})
        elif path == "/_emulator/stats" and method == "GET":
            self._json(200, state.stats())
        elif path == "/_emulator/reset" and method == "POST":
            self._read_body_quietly()
            state.reset()
            self._json(200, {"ok": True})
        elif path == "/_emulator/faults" and method == "POST":
            self._set_faults()
        elif path == "/_emulator/clock" and method in ("GET", "POST"):
            self._clock(method)
        elif (match := _VIDEO_PATH.fullmatch(path)) is not None and method in ("GET", "HEAD"):
            self._video(match.group(1), query, head_only=method == "HEAD")
        elif (match := _MEDIA_PATH.fullmatch(path)) is not None and method in ("GET", "HEAD"):
            image = match.group(1) == "images"
            if image != (match.group(4) == "png"):
                self._error(404, "Not found", api=False)
            else:
                media = (IMAGE_PNG, "image/png") if image else (WAV, "audio/wav")
                self._video(match.group(2), query, head_only=method == "HEAD", media=media)
        elif (
            (match := _UPLOAD_PATH.fullmatch(path)) is not None
            and method == "POST"
            and self.server.config.dialect == "runway"
        ):
            self._receive_upload(match.group(1))
        else:
            self._read_body_quietly()
            self._error(404, "Not found", api=False)

    def _set_faults(self) -> None:
        try:
            data = json.loads(self._read_body(limit=MB))
            if not isinstance(data, dict):
                raise ValueError("faults must be a JSON object")
            faults = Faults.from_mapping(data)
        except (ValueError, TypeError, OverflowError) as exc:
            self._error(400, f"Invalid faults: {exc}", api=False)
            return
        self.server.state.set_faults(faults)
        self._json(200, faults.to_dict())

    def _clock(self, method: str) -> None:
        """``GET``: the clock; ``POST {"advance_seconds": n}``: move it forward first."""
        state = self.server.state
        if method == "POST":
            try:
                data = json.loads(self._read_body(limit=MB) or b"{}")
                if not isinstance(data, dict) or set(data) - {"advance_seconds"}:
                    raise ValueError('expected {"advance_seconds": <seconds >= 0>}')
                seconds = data.get("advance_seconds", 0)
                if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                    raise ValueError("advance_seconds must be a number of seconds")
                state.advance_clock(seconds)
            except (ValueError, OverflowError) as exc:
                self._error(400, f"Invalid clock change: {exc}", api=False)
                return
        self._json(200, {"offset_seconds": state.clock.offset, "now": iso_utc(state.clock.time())})

    def _video(
        self,
        task_id: str,
        query: str,
        head_only: bool,
        media: tuple[bytes, str] = (VIDEO_MP4, "video/mp4"),
    ) -> None:
        """Serve a finished task's output (a video, or the image or audio of `media`)."""
        exp_values = parse_qs(query).get("exp", [])
        try:
            exp = int(exp_values[0]) if exp_values else None
        except ValueError:
            exp = None
        state = self.server.state
        if exp is None or exp < state.clock.time():
            self._error(403, "Request has expired.", api=False)
            return
        if not state.has_output(task_id):
            self._error(404, "Not found", api=False)
            return
        if not head_only:
            if state.draw_download_error():
                self._error(500, "Video temporarily unavailable (injected).", api=False)
                return
            truncation = state.draw_download_truncation()
            if truncation is not None:
                self._truncated_video(sized=truncation == "sized", media=media)
                return
            state.count("downloads")
        self._send(200, media[0], content_type=media[1], head_only=head_only)

    def _truncated_video(
        self, sized: bool, media: tuple[bytes, str] = (VIDEO_MP4, "video/mp4")
    ) -> None:
        """Half the output, then a closed connection: with the full Content-Length announced
        (`sized`) or with none, so only the connection's close ends the body."""
        self.close_connection = True
        self.send_response(200)
        data, content_type = media
        self.send_header("Content-Type", content_type)
        if sized:
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
        except OSError:
            pass

    def _receive_upload(self, token: str) -> None:
        state = self.server.state
        latency = state.faults.latency
        if latency > 0:
            time.sleep(latency)
        try:
            raw = self._read_body(limit=MAX_UPLOAD_BYTES + _MULTIPART_OVERHEAD)
        except ValueError:
            self.close_connection = True
            self._error(400, "Invalid request body framing.", api=False)
            return
        except OverflowError:
            self.close_connection = True
            self._error(
                400, f"File is larger than the {MAX_UPLOAD_BYTES // MB} MB upload limit.", api=False
            )
            return
        if not state.upload_exists(token):
            self._error(404, "Not found", api=False)
            return
        try:
            form = parse_form(self.headers.get("Content-Type", ""), raw)
        except ValueError:
            self._error(400, "Upload must be multipart/form-data.", api=False)
            return
        data = form.get("file")
        key = form.get("key")
        if data is None:
            self._error(400, "Upload has no 'file' field.", api=False)
            return
        if key is not None and key.decode("latin-1") != token:
            self._error(400, "Upload 'key' field does not match the upload URL.", api=False)
            return
        if len(data) > MAX_UPLOAD_BYTES:
            self._error(
                400, f"File is larger than the {MAX_UPLOAD_BYTES // MB} MB upload limit.", api=False
            )
            return
        if not sniff_upload(data):
            self._error(
                400, "Uploaded file is not a JPEG, PNG or WebP image, a video or audio file.",
                api=False,
            )
            return
        state.complete_upload(token, data)
        self._send(204)
