"""The `demo` (service name `webapp`) service of the py_zipkin blog demo
("Introducing distributed tracing in your Python application via Zipkin", Amit Saha, 2017),
kept as close to the post as current py_zipkin allows:

  GET /  -> root span `index` (port 5000, sample_rate=100)
              -> do_stuff(), decorated @zipkin_span(service_name='webapp', span_name='do_stuff'):
                 sleep, then GET http://localhost:6000/service1/ with
                 create_http_headers_for_new_span()
              -> sleep again, return "OK"

Differences from the post, all deliberate:
  * the transport POSTs JSON v2 (Encoding.V2_JSON) to /api/v2/spans with requests; the post
    prepended a thrift list header and POSTed v1 thrift, which py_zipkin 1.2.8 no longer encodes;
  * ports, the service1 URL, the Zipkin URL and the sleeps come from the environment, and the
    sleeps default to 0.05 s / 0.1 s instead of the post's 5 s / 10 s so that tests are fast;
  * debug=False (the post used debug=True, whose reloader forks a second process).

Environment: DEMO_PORT (5000), SERVICE1_URL (http://localhost:6000/service1/),
ZIPKIN_ENDPOINT (http://127.0.0.1:9411/api/v2/spans), DO_STUFF_SLEEP (0.05), INDEX_SLEEP (0.1).
"""
import os
import signal
import sys
import time

import requests
from flask import Flask
from py_zipkin import Encoding
from py_zipkin.zipkin import create_http_headers_for_new_span, zipkin_span

DEMO_PORT = int(os.environ.get("DEMO_PORT") or 5000)
SERVICE1_URL = os.environ.get("SERVICE1_URL") or "http://localhost:6000/service1/"
ZIPKIN_ENDPOINT = os.environ.get("ZIPKIN_ENDPOINT") or "http://127.0.0.1:9411/api/v2/spans"
DO_STUFF_SLEEP = float(os.environ.get("DO_STUFF_SLEEP") or 0.05)  # post: 5
INDEX_SLEEP = float(os.environ.get("INDEX_SLEEP") or 0.1)  # post: 10

app = Flask(__name__)


def http_transport(encoded_span):
    # py_zipkin hands over an already encoded JSON v2 list of spans.
    requests.post(
        ZIPKIN_ENDPOINT,
        data=encoded_span,
        headers={"Content-Type": "application/json"},
    ).raise_for_status()


@zipkin_span(service_name="webapp", span_name="do_stuff")
def do_stuff():
    time.sleep(DO_STUFF_SLEEP)
    headers = create_http_headers_for_new_span()
    requests.get(SERVICE1_URL, headers=headers)
    return "OK"


@app.route("/")
def index():
    with zipkin_span(
        service_name="webapp",
        span_name="index",
        transport_handler=http_transport,
        port=DEMO_PORT,
        sample_rate=100,  # 0.05, # Value between 0.0 and 100.0
        encoding=Encoding.V2_JSON,
    ):
        do_stuff()
        time.sleep(INDEX_SLEEP)
    return "OK", 200


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(port=DEMO_PORT, debug=False)
