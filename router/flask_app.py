"""The Flask class the router runs on: Flask without two costs every request paid for nothing.

- **The cookie session is opened only for a request that sends a cookie.** Flask's signed cookie
  session builds its signing serializer on every request to look for a cookie; the router's
  pages and API never use ``flask.session`` (authlib's client-credentials grant does not either),
  so a request without a ``Cookie`` header gets an empty session straight away, and an empty,
  untouched session is not saved. Anything that does use the session works as before.
- **Whether a view or hook is a coroutine is asked once per function**, not on every call
  (``Flask.ensure_sync`` inspects the function's code flags each time).
- **Flask reads JSON with** :func:`router.domain.text.read_json`, so ``request.get_json`` refuses
  JSON nested past Python's recursion limit as any malformed body (a RecursionError was a 500).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from router.domain.text import read_json


class CookieSessionWhenSent(SecureCookieSessionInterface):
    """Flask's signed cookie session, read only when the request carries a cookie."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session for a request without cookies; else Flask's own."""
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Nothing to do for an empty session nobody read or wrote; else Flask's own."""
        if not session and not session.accessed and not session.modified:
            return
        super().save_session(app, session, response)


class JSONReadingAll(DefaultJSONProvider):
    """Flask's JSON, its text read by ``read_json``: every unreadable text is a ValueError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """``read_json``'s value; with options, Flask's own reading."""
        return super().loads(s, **kwargs) if kwargs else read_json(s)


class RouterFlask(Flask):
    """Flask with the session, ``ensure_sync`` and JSON reading of this module."""

    session_interface = CookieSessionWhenSent()
    json_provider_class = JSONReadingAll

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_coroutine: dict[Callable[..., Any], bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's ``ensure_sync``, the coroutine check remembered per plain function."""
        target = func.__func__ if isinstance(func, types.MethodType) else func
        if not isinstance(target, types.FunctionType):  # partials, callables: ask each time
            return super().ensure_sync(func)
        is_coroutine = self._is_coroutine.get(target)
        if is_coroutine is None:
            is_coroutine = self._is_coroutine[target] = inspect.iscoroutinefunction(target)
        return self.async_to_sync(func) if is_coroutine else func
