"""REST API (FastAPI, served in the same process as the Gradio app). Same JSON as `kbqa ask --json`."""

from __future__ import annotations

import dataclasses
from http import HTTPStatus
from typing import Any, get_type_hints

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import (
    Answer,
    AnswerMode,
    Channel,
    IndexMismatchError,
    IndexNotFoundError,
    KbqaError,
    KbService,
    QuestionError,
    SearchHit,
    Triage,
    search_results,
)
from ui.remote import CHANNEL_HEADER


class AskRequest(BaseModel):
    question: str = Field(..., description="The question, an error message or a log line.")
    k: int | None = Field(None, ge=1, le=50)
    tags: list[str] = Field(default_factory=list)
    history: list[str] = Field(default_factory=list, description="Earlier turns' `query` values, oldest first.")
    mode: AnswerMode | None = Field(None, description="extractive or llm (needs an LLM configured); default: settings.")


class TriageRequest(BaseModel):
    ticket: str = Field(..., description="The pasted ticket, error message or log excerpt (up to ~20 KB).")
    tags: list[str] = Field(default_factory=list, description="Only articles with one of these tags or products.")


class SearchRequest(BaseModel):
    query: str
    k: int = Field(10, ge=1, le=50)
    tags: list[str] = Field(default_factory=list)


# Response models, so /openapi.json documents every response. The shapes are the dataclasses the library
# returns (the same JSON as `kbqa ask/search/triage --json`), built from them rather than written twice.
def _model_of(cls: type, name: str, **extra: Any) -> type[BaseModel]:
    hints = get_type_hints(cls)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(cls)}
    return create_model(name, __doc__=cls.__doc__, **fields, **extra)


AnswerResponse = _model_of(Answer, "AnswerResponse", schema_version=(int, ...))
TriageResponse = _model_of(Triage, "TriageResponse")


class SearchResponse(BaseModel):
    schema_version: int
    hits: list[SearchHit]


class ArticleRow(BaseModel):
    article_id: str
    title: str
    tags: list[str]
    updated: str
    source_path: str
    source_url: str
    source: str = Field(
        "", description="The synced source it came from (kbqa.toml [[sources]]); empty for ingested files."
    )
    revision: str = Field("", description="The commit (git) or ETag/Last-Modified (web) its text is from.")
    chunks: int


class SourceRow(BaseModel):
    name: str
    kind: str
    where: str
    synced_at: str
    failed_at: str
    revision: str
    added: int
    changed: int
    removed: int
    errors: list[str]


class SourcesResponse(BaseModel):
    sources: list[SourceRow]


class ArticlesResponse(BaseModel):
    articles: list[ArticleRow]


class HealthResponse(BaseModel):
    status: str = Field(description="ok, or no_index (with status code 503)")
    chunks: int | None = None
    embedding_model_loads: int | None = None
    message: str | None = None


class ErrorResponse(BaseModel):
    error: str = Field(description="The error's type, e.g. QuestionError, IndexNotFoundError, BadRequest")
    message: str = Field(description="What is wrong and what to do")


_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 413, 500, 503)}
_STATUSES = {s.value for s in HTTPStatus}


def _status(exc: KbqaError) -> int:
    if isinstance(exc, IndexNotFoundError | IndexMismatchError):
        return 503
    if isinstance(exc, QuestionError) or exc.exit_code == 2:
        return 400
    return 500


def _channel(request: Request) -> Channel:
    """The query log's channel: "cli" when `kbqa ask` sent the request through this server, else "api"."""
    return "cli" if request.headers.get(CHANNEL_HEADER) == "cli" else "api"


def install(app: FastAPI, service: KbService) -> None:
    """Add the /api routes and turn kbqa errors into JSON with the right status code."""
    router = APIRouter(prefix="/api", tags=["kbqa"])

    @router.post(
        "/ask",
        summary="Answer a question from the KB with citations, or abstain",
        response_model=AnswerResponse,
        responses=_ERRORS,
    )
    def ask(body: AskRequest, request: Request) -> dict[str, Any]:
        answer = service.ask(
            body.question, k=body.k, tags=body.tags, history=body.history, mode=body.mode, channel=_channel(request)
        )
        return answer.to_dict()

    @router.post(
        "/search",
        summary="Ranked articles with the matching passage and matched terms",
        response_model=SearchResponse,
        responses=_ERRORS,
    )
    def search(body: SearchRequest, request: Request) -> dict[str, Any]:
        return search_results(service.search(body.query, k=body.k, tags=body.tags, channel=_channel(request)))

    @router.post(
        "/triage",
        summary="Match a ticket or log to a known issue: cause, fix, checks, reply draft",
        response_model=TriageResponse,
        responses=_ERRORS,
    )
    def triage(body: TriageRequest, request: Request) -> dict[str, Any]:
        return service.triage(body.ticket, tags=body.tags, channel=_channel(request)).to_dict()

    @router.get(
        "/health",
        summary="Whether an index is loaded, and its size",
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse}},
    )
    def health() -> JSONResponse:
        status = service.health()
        return JSONResponse(status, 200 if status["status"] == "ok" else 503)

    @router.get(
        "/articles",
        summary="Indexed articles: id, title, tags, updated, path, URL, source, revision, chunks",
        response_model=ArticlesResponse,
        responses=_ERRORS,
    )
    def articles() -> dict[str, Any]:
        return {"articles": service.articles()}

    @router.get(
        "/sources",
        summary="The KB's sources with their last sync: time, articles added/changed/removed, errors",
        response_model=SourcesResponse,
        responses=_ERRORS,
    )
    def sources() -> dict[str, Any]:
        return {"sources": service.sources()}

    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "BadRequest", "message": problems}, status_code=400)

    @app.exception_handler(KbqaError)
    async def _kbqa_error(request: Request, exc: KbqaError) -> JSONResponse:
        return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=_status(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The same {"error", "message"} shape for FastAPI's own refusals (a body that is not UTF-8 or JSON)."""
        name = HTTPStatus(exc.status_code).phrase.replace(" ", "") if exc.status_code in _STATUSES else "Error"
        return JSONResponse(
            {"error": name, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )
