"""The reviewers' web page, ``/review``: a static page (HTML, JavaScript, CSS served by the package, no
framework, no CDN) over the ``/v1/review`` API.

When the server has a token (``MODCLS_API_TOKEN``), the page asks for it once: ``POST /review/login``
checks it and sets an HttpOnly, SameSite=Strict cookie holding a keyed hash of the token, which the API
accepts like the bearer header. Without the cookie, ``/review`` answers 401 with the sign-in form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "review"
COOKIE = "modcls_review"
_SIGN_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>modcls review: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/review/static/review.css"></head>
<body class="sign-in"><form method="post" action="/review/login" class="card">
<h1>modcls review</h1><p>{message}</p>
<label>API token <input type="password" name="token" id="token" autofocus required></label>
<button type="submit" id="sign-in">Sign in</button></form></body></html>"""


def session_value(token: str) -> str:
    """The cookie value for ``token``: a keyed hash, so the token itself never sits in the browser."""
    return hmac.new(token.encode(), b"modcls-review-session", hashlib.sha256).hexdigest()


def install(app: FastAPI, token: str | None) -> None:
    """Add ``/review``, its sign-in and its assets to ``app``."""
    app.mount("/review/static", StaticFiles(directory=STATIC), name="review-assets")

    def signed_in(request: Request) -> bool:
        if token is None:
            return True
        given = request.cookies.get(COOKIE, "")
        return bool(given) and secrets.compare_digest(given.encode(), session_value(token).encode())

    @app.get("/review", include_in_schema=False)
    async def review(request: Request) -> Response:
        if not signed_in(request):
            return HTMLResponse(_SIGN_IN.format(message="This server needs its API token."), status_code=401)
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.post("/review/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        if token is not None and not secrets.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(_SIGN_IN.format(message="Wrong token."), status_code=401)
        response = RedirectResponse("/review", status_code=303)
        if token is not None:
            response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response

    @app.post("/review/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/review", status_code=303)
        response.delete_cookie(COOKIE)
        return response
