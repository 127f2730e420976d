"""gunicorn settings shared by every way the web server starts (`make run`, docker-compose, the image,
bench/api_bench.py): `gunicorn helpdesk.wsgi -c python:helpdesk.gunicorn_conf ...`.

Measured in bench/API.md on 2 cores, 50 kept-alive clients:
- reuse_port: each worker listens on its own SO_REUSEPORT socket and the kernel spreads connections
  evenly. With one shared socket, whichever worker wakes first often accepts nearly all 50, and a
  kept-alive connection stays with it: one GIL, one core, while the other worker idles.
- gc.freeze() once the app is loaded: the ~100,000 objects of Django, DRF and our modules leave the
  garbage collector's view, so a full collection no longer scans them on a request (50-150 ms each).
"""

import gc

reuse_port = True


def post_worker_init(worker) -> None:
    # The URLconf (and through it every view, serializer and filter module) loads on the first request
    # otherwise; load it now, so its objects are frozen with the rest.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - evaluated for its import side effect
    gc.collect()
    gc.freeze()
