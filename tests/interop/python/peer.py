"""Interop peer built on py_zipkin 1.2.8 + Flask + requests.

py_zipkin has no HTTP middleware, so this is the usual hand-wiring its README describes:
  * SERVER span: zipkin_span(kind=SERVER) with zipkin_attrs from
    py_zipkin.request_helpers.extract_zipkin_attrs_from_headers(request.headers), which reads the
    single `b3` header first, then X-B3-*;
  * CLIENT span: nested zipkin_span(kind=CLIENT) + py_zipkin.request_helpers.create_http_headers()
    for the outgoing X-B3-* headers;
  * spans are JSON v2 (Encoding.V2_JSON), POSTed with requests to ZIPKIN_ENDPOINT synchronously when
    the SERVER span (the local root) closes, i.e. before the HTTP response is sent.

py_zipkin cannot write the single `b3` header. With B3_FORMAT=single this peer folds the values of
create_http_headers() into `b3: {traceid}-{spanid}-{sampled}[-{parentid}]` itself.

Environment: PORT (default 8081), SERVICE_NAME (default python-peer),
ZIPKIN_ENDPOINT (default http://127.0.0.1:9411/api/v2/spans), B3_FORMAT multi|single (outgoing).
See tests/interop/README.md for the protocol.
"""
import logging
import os
import signal
import sys
from urllib.parse import urlsplit

import requests
from flask import Flask, jsonify, request
from py_zipkin import Encoding, Kind
from py_zipkin.request_helpers import create_http_headers, extract_zipkin_attrs_from_headers
from py_zipkin.storage import get_default_tracer
from py_zipkin.zipkin import zipkin_span

PORT = int(os.environ.get("PORT") or 8081)
SERVICE_NAME = os.environ.get("SERVICE_NAME") or "python-peer"
ZIPKIN_ENDPOINT = os.environ.get("ZIPKIN_ENDPOINT") or "http://127.0.0.1:9411/api/v2/spans"
B3_FORMAT = os.environ.get("B3_FORMAT") or "multi"
if B3_FORMAT not in ("multi", "single"):
    sys.exit(f"B3_FORMAT must be multi or single, not {B3_FORMAT!r}")

app = Flask(__name__)
http = requests.Session()  # for hops; spans use their own requests.post


def http_transport(encoded_spans):
    """py_zipkin transport: POST the JSON v2 list as is; raise on anything but 202."""
    resp = requests.post(
        ZIPKIN_ENDPOINT,
        data=encoded_spans,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    if resp.status_code != 202:
        raise RuntimeError(f"zipkin answered {resp.status_code}: {resp.text!r}")


def to_single(headers):
    """Fold py_zipkin's multi headers into one `b3` header (py_zipkin has no single injector)."""
    sampled = "d" if headers.get("X-B3-Flags") == "1" else headers["X-B3-Sampled"]
    value = f"{headers['X-B3-TraceId']}-{headers['X-B3-SpanId']}-{sampled}"
    if headers.get("X-B3-ParentSpanId"):
        value += f"-{headers['X-B3-ParentSpanId']}"
    return {"b3": value}


@app.get("/health")
def health():
    return "OK\n", 200, {"Content-Type": "text/plain"}


@app.get("/chain")
def chain():
    received = {
        k.lower(): v
        for k, v in request.headers.items()
        if k.lower() == "b3" or k.lower().startswith("x-b3-")
    }
    hops = [h.strip() for h in request.args.get("hops", "").split(",") if h.strip()]
    # None when there are no (or malformed) B3 headers: then start a new, sampled trace.
    attrs = extract_zipkin_attrs_from_headers(request.headers, sample_rate=100.0)
    with zipkin_span(
        service_name=SERVICE_NAME,
        span_name="get",
        zipkin_attrs=attrs,
        # sample_rate together with unsampled attrs would re-roll the decision: only for new traces.
        sample_rate=None if attrs else 100.0,
        transport_handler=http_transport,
        kind=Kind.SERVER,
        port=PORT,
        host="127.0.0.1",
        encoding=Encoding.V2_JSON,
        binary_annotations={"http.method": "GET", "http.path": "/chain"},
    ):
        ctx = get_default_tracer().get_zipkin_attrs()  # the SERVER span's context
        body = {
            "service": SERVICE_NAME,
            "traceId": ctx.trace_id,
            "spanId": ctx.span_id,
            "sampled": ctx.is_sampled,
            "debug": ctx.flags == "1",
            "receivedHeaders": received,
            "downstream": None,
        }
        status = 200
        if hops:
            with zipkin_span(
                service_name=SERVICE_NAME,
                span_name="get",
                kind=Kind.CLIENT,
                binary_annotations={"http.method": "GET", "http.path": urlsplit(hops[0]).path},
            ) as client_span:
                headers = create_http_headers()  # the CLIENT span's ids
                if B3_FORMAT == "single":
                    headers = to_single(headers)
                try:
                    resp = http.get(
                        hops[0],
                        params={"hops": ",".join(hops[1:])},
                        headers=headers,
                        timeout=30,
                    )
                    try:
                        body["downstream"] = resp.json()
                    except ValueError:
                        body["downstream"] = None
                    if resp.status_code != 200:
                        status = 502
                        body["error"] = f"GET {hops[0]}: status {resp.status_code}"
                except requests.RequestException as e:
                    status = 502
                    body["error"] = f"GET {hops[0]}: {e}"
                if status != 200:
                    client_span.update_binary_annotations({"error": body["error"]})
    return jsonify(body), status


def _sigterm(signum, frame):
    # Spans are sent synchronously when each request's SERVER span closes, so nothing is pending.
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _sigterm)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(
        f"py_zipkin peer {SERVICE_NAME} listening on 127.0.0.1:{PORT} "
        f"(b3 out: {B3_FORMAT}, zipkin: {ZIPKIN_ENDPOINT})",
        file=sys.stderr,
        flush=True,
    )
    app.run(host="127.0.0.1", port=PORT, threaded=True, debug=False, use_reloader=False)
