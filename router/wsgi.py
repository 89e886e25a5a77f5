"""WSGI entry point for gunicorn: ``gunicorn -c python:router.gunicorn_config router.wsgi:app``.

The router answers at the root and, like the real router, under ``/esc-rest``, so a client keeps
its base URL's path when it switches to us. A database that is not at the code's revision stops
the worker with one line saying what to run (gunicorn then stops: "Worker failed to boot").
"""

import sys

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from router.app import create_app, freeze_start_up_objects
from router.logs import get_logger
from router.schema_state import schema_problem

flask_app = create_app()
_problem = schema_problem(flask_app.extensions["escr.settings"].database_url)
if _problem:
    get_logger("router.wsgi").error(_problem)
    # 3 is gunicorn's "worker failed to boot": the master stops instead of respawning it.
    sys.exit(3)
app = DispatcherMiddleware(flask_app.wsgi_app, {"/esc-rest": flask_app.wsgi_app})
# Last: everything the worker built so far lives as long as it does.
freeze_start_up_objects()
