"""The dashboard's routes: the page at ``/`` and its assets, open to all (data needs a key).

Every response carries a Content-Security-Policy that allows this origin only: no inline
script, no third-party host, images and video from ``blob:`` URLs the page makes itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from agent.dashboard.assets import Asset, Assets, load_assets

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
REVALIDATE = "no-cache"
FOREVER = "public, max-age=31536000, immutable"


def _serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def _not_found() -> Response:
    return Response("not found", 404, headers=SECURITY_HEADERS, media_type="text/plain")


def dashboard_router(assets: Assets | None = None) -> APIRouter:
    loaded = assets or load_assets()
    router = APIRouter(include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"])
    async def page(request: Request) -> Response:
        return _serve(request, loaded.index, REVALIDATE)

    @router.api_route("/dashboard/{version}/{path:path}", methods=["GET", "HEAD"])
    async def asset(request: Request, version: str, path: str) -> Response:
        found = loaded.files.get(path)
        if found is None:
            return _not_found()
        # A page loaded before an upgrade may ask for an old version: it gets today's file,
        # which must not be kept under the old name.
        return _serve(request, found, FOREVER if version == loaded.version else REVALIDATE)

    return router
