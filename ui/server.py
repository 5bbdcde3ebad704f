"""One process: the Gradio app at / and the REST API at /api, behind optional HTTP basic login."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rag import KbService, Settings, SettingsError, offline_environment


def _credentials(auth: str) -> tuple[str, str]:
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise SettingsError("KBQA_AUTH must look like user:password (both non-empty).")
    return user, password


def _check_basic(header: str, user: str, password: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Bytes: compare_digest refuses non-ASCII str, and a non-ASCII password made every request a 500.
    same_user = secrets.compare_digest(given_user.encode(), user.encode())
    return same_user & secrets.compare_digest(given_password.encode(), password.encode())


class BodyLimit:
    """Refuse a request body over ``limit`` bytes before it is read into memory: by its Content-Length, or, when
    it is streamed without one, as soon as the bytes received pass the limit (a 300 MB JSON body was read whole)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(send)
            else:
                await self.app(scope, receive, send)
            return
        # Streamed: take it in up to the limit, then hand it on (the app turns an error raised while it reads the
        # body into a 400, so the refusal has to happen here).
        messages, received = [], 0
        while True:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if received > self.limit:
                await self._refuse(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        replay = iter(messages)

        async def replayed() -> Any:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, send: Any) -> None:
        response = JSONResponse(
            {
                "error": "PayloadTooLarge",
                "message": f"The request body is over {self.limit:,} bytes. Send less (raise KBQA_MAX_REQUEST_BYTES "
                "to allow more).",
            },
            status_code=413,
        )
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def create_app(settings: Settings, service: KbService | None = None) -> FastAPI:
    offline_environment()
    import gradio as gr

    from ui import api
    from ui.app import build_blocks
    from ui.render import CSS

    service = service or KbService(settings)
    service.feedback  # noqa: B018 -- opened now: a read-only index folder is said before the app serves
    app = FastAPI(title="kbqa", description="Ask the support KB: answers with citations, or a plain abstention.")
    if settings.auth:
        user, password = _credentials(settings.auth)

        @app.middleware("http")
        async def _login(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if _check_basic(request.headers.get("authorization", ""), user, password):
                return await call_next(request)
            return JSONResponse(
                {"error": "Unauthorized", "message": "Log in with the kbqa user name and password (HTTP basic)."},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="kbqa"'},
            )

    api.install(app, service)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    # System fonts only: the page must load nothing from outside localhost.
    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
    blocks = build_blocks(service)
    gr.mount_gradio_app(
        app, blocks, path="/", theme=theme, css=CSS, footer_links=[], max_file_size=settings.max_upload_bytes
    )
    # Gradio checks that a file input names a file this client uploaded only once the Blocks "has launched",
    # which launch() sets and mount_gradio_app does not (gradio 6.31). Without it a client could send any server
    # path as a file and have it copied into the cache, indexed or served back (tests/test_security.py).
    blocks.has_launched = True
    return app


def serve(settings: Settings) -> None:
    import uvicorn

    from ui.remote import announce

    service = KbService(settings)
    service.feedback  # noqa: B018 -- a read-only index folder is said before indexing starts
    service.ensure_index()  # before the app is built: its tag lists and library table read the index
    app = create_app(settings, service)
    announced = announce(settings)  # `kbqa ask` on this index answers through this server from now on
    # Removed on the way down: uvicorn re-raises SIGTERM once it has shut down, so a `finally` would not run.
    app.router.add_event_handler("shutdown", lambda: announced.unlink(missing_ok=True))
    background = None
    if settings.sync_every_s:
        from rag import BackgroundSync

        background = BackgroundSync(service.sync, settings.sync_every_s).start()
        app.router.add_event_handler("shutdown", background.stop)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        announced.unlink(missing_ok=True)
        if background is not None:
            background.stop()
