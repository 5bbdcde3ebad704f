"""One process: the Gradio app at / and the REST API at /api, behind optional HTTP basic login."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rag.embeddings import offline_environment
from rag.errors import SettingsError
from rag.settings import Settings
from ui.service import KbService


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


def create_app(settings: Settings, service: KbService | None = None) -> FastAPI:
    offline_environment()
    import gradio as gr

    from ui import api
    from ui.app import build_blocks
    from ui.render import CSS

    service = service or KbService(settings)
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
    # System fonts only: the page must load nothing from outside localhost.
    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
    blocks = build_blocks(service)
    gr.mount_gradio_app(app, blocks, path="/", theme=theme, css=CSS, footer_links=[])
    # Gradio checks that a file input names a file this client uploaded only once the Blocks "has launched",
    # which launch() sets and mount_gradio_app does not (gradio 6.31). Without it a client could send any server
    # path as a file and have it copied into the cache, indexed or served back (tests/test_security.py).
    blocks.has_launched = True
    return app


def serve(settings: Settings) -> None:
    import uvicorn

    service = KbService(settings)
    service.ensure_index()
    uvicorn.run(create_app(settings, service), host=settings.host, port=settings.port, log_level="warning")
