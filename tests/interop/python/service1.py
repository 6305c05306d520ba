"""The `service1` service of the py_zipkin blog demo
("Introducing distributed tracing in your Python application via Zipkin", Amit Saha, 2017):

  GET /service1/ -> span `index_service1` (port 6000, sample_rate=100) continuing the caller's
                    trace with ZipkinAttrs built from the X-B3-* request headers, as the post does
                      -> do_stuff(), decorated
                         @zipkin_span(service_name='service1', span_name='service1_do_stuff'): sleep
                    return "OK"

Differences from the post, all deliberate:
  * the transport POSTs JSON v2 (Encoding.V2_JSON) with requests (the post: v1 thrift);
  * X-B3-ParentSpanId and X-B3-Flags are read with .get(): the post indexed them with [], so a
    caller that sends a root span (no parent) or omits the optional Flags got a 500 (werkzeug's
    EnvironHeaders raises a plain KeyError). TraceId and SpanId are still required, as in the
    post: without them the answer is a 500;
  * is_sampled: the post passed the raw header string, so "0" was truthy and still sampled. Here
    "0"/"false" become False. With sample_rate=100 (kept from the post) py_zipkin then RE-ROLLS
    (to sampled) and starts a new span id without parent in the same trace: a py_zipkin quirk;
  * the port and sleep come from the environment (sleep defaults to 0.05 s instead of 5 s);
    debug=False.

Environment: SERVICE1_PORT (6000), ZIPKIN_ENDPOINT (http://127.0.0.1:9411/api/v2/spans),
DO_STUFF_SLEEP (0.05).
"""
import os
import signal
import sys
import time

import requests
from flask import Flask, request
from py_zipkin import Encoding
from py_zipkin.zipkin import ZipkinAttrs, zipkin_span

SERVICE1_PORT = int(os.environ.get("SERVICE1_PORT") or 6000)
ZIPKIN_ENDPOINT = os.environ.get("ZIPKIN_ENDPOINT") or "http://127.0.0.1:9411/api/v2/spans"
DO_STUFF_SLEEP = float(os.environ.get("DO_STUFF_SLEEP") or 0.05)  # post: 5

app = Flask(__name__)


def http_transport(encoded_span):
    # py_zipkin hands over an already encoded JSON v2 list of spans.
    requests.post(
        ZIPKIN_ENDPOINT,
        data=encoded_span,
        headers={"Content-Type": "application/json"},
    ).raise_for_status()


@zipkin_span(service_name="service1", span_name="service1_do_stuff")
def do_stuff():
    time.sleep(DO_STUFF_SLEEP)
    return "OK"


@app.route("/service1/")
def index():
    with zipkin_span(
        service_name="service1",
        zipkin_attrs=ZipkinAttrs(
            trace_id=request.headers["X-B3-TraceID"],
            span_id=request.headers["X-B3-SpanID"],
            parent_span_id=request.headers.get("X-B3-ParentSpanID"),
            flags=request.headers.get("X-B3-Flags", "0"),
            is_sampled=request.headers.get("X-B3-Sampled", "1") not in ("0", "false"),
        ),
        span_name="index_service1",
        transport_handler=http_transport,
        port=SERVICE1_PORT,
        sample_rate=100,  # 0.05, # Value between 0.0 and 100.0
        encoding=Encoding.V2_JSON,
    ):
        do_stuff()
    return "OK", 200


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(port=SERVICE1_PORT, debug=False)
