"""``/oauth/authorize/`` (a consent page for a configured user) and ``/oauth/token/``."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openlines.auth import oauth
from openlines.protocol.php import parse_str, php_int
from openlines.services import Services


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json; charset=utf-8")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = parse_str(request.url.query)
    if request.method == "POST":
        body = await request.body()
        if "json" in request.headers.get("content-type", ""):
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError:
                decoded = None
            if isinstance(decoded, dict):
                params.update(decoded)
        else:
            params.update(parse_str(body.decode("utf-8", errors="replace")))
    return params


async def token(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        answer = await oauth.token(services, await _params(request))
    except oauth.OAuthError as exc:
        return _json(exc.status, exc.body())
    return _json(200, answer)


async def authorize(request: Request) -> Response:
    """GET shows who will grant access; POST (the page's button) grants it and redirects back."""
    services: Services = request.app.state.services
    params = await _params(request)
    client_id = str(params.get("client_id") or "")
    state = str(params.get("state") or "")
    try:
        app = await oauth.find_app(services, client_id)
    except oauth.OAuthError as exc:
        return HTMLResponse(f"<h1>Cannot authorize</h1><p>{html.escape(exc.description)}</p>", exc.status)
    users = [u for u in await services.store.list_users() if u.active]
    if request.method != "POST":
        options = "".join(
            f'<option value="{u.id}"{" selected" if u.id == app.install_user else ""}>'
            f"{html.escape(u.full_name)} (#{u.id})</option>"
            for u in users
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>Authorize application</title>"
            f"<h1>Allow {html.escape(app.name or app.client_id)}?</h1>"
            f"<p>Scopes: {html.escape(', '.join(sorted(app.scopes)))}</p>"
            '<form method="post">'
            f'<input type="hidden" name="client_id" value="{html.escape(client_id)}">'
            f'<input type="hidden" name="state" value="{html.escape(state)}">'
            f'<label>Act as <select name="user_id">{options}</select></label> '
            '<button type="submit">Allow</button></form>'
        )
        return HTMLResponse(page)
    user_id = php_int(params.get("user_id")) or app.install_user
    if user_id not in {u.id for u in users}:
        return HTMLResponse("<h1>Cannot authorize</h1><p>No such active user.</p>", 400)
    grant = await oauth.authorize(services, app, user_id, state)
    if app.redirect_uri:
        separator = "&" if "?" in app.redirect_uri else "?"
        return RedirectResponse(app.redirect_uri + separator + urlencode(grant.redirect), 302)
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
        for k, v in grant.redirect.items()
    )
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Authorization code</title>"
        "<h1>Authorization code</h1><p>This app has no redirect_uri; exchange the code at /oauth/token/ "
        f"within {oauth.CODE_LIFETIME} seconds.</p><table>{rows}</table>"
    )
