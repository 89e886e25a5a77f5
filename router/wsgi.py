"""WSGI entry point for gunicorn: ``gunicorn router.wsgi:app``.

The router answers at the root and, like the real router, under ``/esc-rest``, so a client keeps
its base URL's path when it switches to us.
"""

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from router.app import create_app

flask_app = create_app()
app = DispatcherMiddleware(flask_app.wsgi_app, {"/esc-rest": flask_app.wsgi_app})
