"""The app's settings with one change: the URLconf adds the naive baseline views (bench/naive_urls.py).

Used only by bench/api_bench.py, for its second gunicorn; nothing in the app imports it.
"""

from helpdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.naive_urls"
