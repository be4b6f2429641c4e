"""The demo's API: `/api/notes` for clients holding an identity provider's
access token with the `notes:read` scope, and `/api-token`, where a logged-in
user gets such a token from the demo's stand-in provider to try it.

Imports PyJWT (the extra aiohttp_guard[jwt]); the demo runs without its API
when that is missing."""

from __future__ import annotations

from html import escape

from aiohttp import web

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    JWTPolicy,
    Requires,
    Scope,
)

from .pages import layout
from .provider import DemoProvider

__all__ = ["API_NOTES", "PROVIDER", "api_routes", "token_policy"]

#: Who may read the API's notes: tokens with the `notes:read` scope.
API_NOTES: ACL[str] = ACL([(Allow, Scope("notes:read"), "read")])
#: The demo's stand-in provider, when it uses its own.
PROVIDER = web.AppKey("demo.provider", DemoProvider)
#: The stand-in provider's issuer: its keys are given to the policy, never
#: fetched.
STAND_IN_ISSUER = "aiohttp_guard-demo"


def token_policy(app: web.Application, issuer: str | None, audience: str) -> JWTPolicy:
    """The policy for the API's tokens: those of `issuer` (its keys found by
    discovery), or without one, those of a stand-in provider made now."""
    if issuer is not None:
        return JWTPolicy(issuer=issuer, audience=audience)
    provider = app[PROVIDER] = DemoProvider(STAND_IN_ISSUER, audience=audience)
    return JWTPolicy(issuer=STAND_IN_ISSUER, audience=audience, keys=provider.jwk_set())


@Requires("read", API_NOTES)
async def api_notes(request: web.Request) -> web.Response:
    identity = await AuthService.of(request).identity(request)
    return web.json_response(
        {
            "user": None if identity is None else identity.user_id,
            "scopes": [] if identity is None else sorted(identity.scopes),
            "notes": ["This answer needed a token with the notes:read scope."],
        }
    )


async def api_token(request: web.Request) -> web.Response:
    """A token of the stand-in provider for the logged-in user."""
    user_id = await Authenticated()(request)
    provider = request.app.get(PROVIDER)
    if provider is None:
        body = "<p>Get an access token from your identity provider.</p>"
    else:
        token = escape(provider.token(user_id, scope="notes:read"))
        url = escape(str(request.url.with_path("/api/notes").with_query(None)))
        body = (
            "<p>An access token of the demo's stand-in identity provider, "
            "valid for five minutes, with the <code>notes:read</code> scope:</p>"
            f'<pre id="token">{token}</pre><p>Call the API with it:</p>'
            f'<pre>curl -H "Authorization: Bearer {token}" {url}</pre>'
        )
    return web.Response(
        text=layout("API token", body, user_id), content_type="text/html"
    )


def api_routes() -> list[web.RouteDef]:
    return [web.get("/api/notes", api_notes), web.get("/api-token", api_token)]
