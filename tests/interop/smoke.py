#!/usr/bin/env python3
"""End-to-end check of the interop peers against a real Zipkin server (stdlib only).

Drives chains of running peers (every order of the given peers) with curl-like root requests,
with and without incoming B3 context, then polls Zipkin's /api/v2/trace/{id} and checks that each
chain produced exactly one trace with the right parent links. Also captures every header each peer
sends downstream (through a local echo hop), for tests/interop/NOTES.md.

  python3 tests/interop/smoke.py --peer python=http://127.0.0.1:18081 \\
      --peer java=http://127.0.0.1:18082 --peer go=http://127.0.0.1:18083 --format multi \\
      [--demo http://localhost:5000/]

Exit status 0 when every check passed. Prints 'N passed, N failed' last.
"""
import argparse
import http.server
import itertools
import json
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

MULTI = ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags")


def rand_hex(n):
    return secrets.token_hex(n // 2)


def get(url, headers=None, timeout=30):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def chain_url(urls):
    first, rest = urls[0], urls[1:]
    return first + "?" + urllib.parse.urlencode({"hops": ",".join(rest)})


def flatten(node):
    out = []
    while node is not None:
        out.append(node)
        node = node.get("downstream")
    return out


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Last hop of the header-dump chains: answers with every request header it got."""

    def do_GET(self):
        body = json.dumps(
            {"service": "echo", "allHeaders": [[k, v] for k, v in self.headers.items()], "downstream": None}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, cond, label):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(label)
            print(f"FAIL: {label}", flush=True)
        return cond


# Scenarios: name -> (headers to send to the first peer, expectation)
def scenarios():
    """Fresh ids for every call and every scenario, so that no two requests share a trace."""
    t = lambda: rand_hex(16)  # noqa: E731
    ids = {k: (t(), t(), t()) for k in ("multi-in", "deferred", "unsampled", "debug")}
    t128, s128, p128 = rand_hex(32), t(), t()
    out = {"no-headers": ({}, {"trace": None, "span": None, "parent": None, "sampled": True})}
    tr, s, p = ids["multi-in"]
    out["multi-in"] = (
        {"X-B3-TraceId": tr, "X-B3-SpanId": s, "X-B3-ParentSpanId": p, "X-B3-Sampled": "1"},
        {"trace": tr, "span": s, "parent": p, "sampled": True},
    )
    out["single-in-128"] = (
        {"b3": f"{t128}-{s128}-1-{p128}"},
        {"trace": t128, "span": s128, "parent": p128, "sampled": True},
    )
    tr, s, _ = ids["deferred"]
    out["deferred"] = ({"b3": f"{tr}-{s}"}, {"trace": tr, "span": s, "parent": None, "sampled": True})
    tr, s, _ = ids["unsampled"]
    out["unsampled"] = (
        {"X-B3-TraceId": tr, "X-B3-SpanId": s, "X-B3-Sampled": "0"},
        {"trace": tr, "span": s, "parent": None, "sampled": False},
    )
    tr, s, _ = ids["debug"]
    out["debug"] = (
        {"X-B3-TraceId": tr, "X-B3-SpanId": s, "X-B3-Flags": "1"},
        {"trace": tr, "span": s, "parent": None, "sampled": True},
    )
    return out


def wait_for_spans(zipkin, trace_id, want, deadline):
    """Polls until `want` spans are stored (the collector answers 202 before it stores)."""
    while time.time() < deadline:
        status, body = get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=5)
        if status == 200 and len(json.loads(body)) >= want:
            return
        time.sleep(0.1)


def expected_sampled(peer, scen, debug_alive):
    """What a peer reports as `sampled`. zipkin-go keeps Sampled unset (null) on a debug context,
    debug implying sampled."""
    if scen == "unsampled":
        return False
    if peer == "go" and debug_alive:
        return None
    return True


def verify_response(c, label, order, scen, hops, expect, fmt):
    """Checks what the peers answered (ids, sampling, headers each hop received)."""
    n = len(hops)
    trace_id = expect["trace"] or hops[0]["traceId"]
    c.check(all(h["traceId"] == trace_id for h in hops), f"{label}: one trace id across hops")
    # Debug survives each hop except py_zipkin, which always sends X-B3-Flags: 0 + X-B3-Sampled: 1.
    debug_alive = []
    alive = scen == "debug"
    for peer in order:
        debug_alive.append(alive)
        if peer == "python":
            alive = False
    for i, (peer, h) in enumerate(zip(order, hops)):
        want = expected_sampled(peer, scen, debug_alive[i])
        c.check(h["sampled"] is want, f"{label}: hop {i} ({peer}) sampled={want} (got {h['sampled']})")
        c.check(h.get("debug") is debug_alive[i], f"{label}: hop {i} ({peer}) debug={debug_alive[i]}")
    if expect["span"]:
        c.check(hops[0]["spanId"] == expect["span"], f"{label}: first peer joins the caller's span id")
    # What each hop received from the previous one.
    for i in range(1, n):
        rh = hops[i]["receivedHeaders"]
        prev = hops[i - 1]
        if fmt == "single":
            ok = "b3" in rh and not any(k in rh for k in MULTI)
            c.check(ok, f"{label}: hop {i} got only the single b3 header ({sorted(rh)})")
            if ok:
                parts = rh["b3"].split("-")
                c.check(parts[0] == trace_id and parts[1] == hops[i]["spanId"], f"{label}: hop {i} b3 ids")
                c.check(len(parts) == 4 and parts[3] == prev["spanId"], f"{label}: hop {i} b3 parent = caller's server span ({rh['b3']})")
        else:
            ok = "b3" not in rh and rh.get("x-b3-traceid") == trace_id and rh.get("x-b3-spanid") == hops[i]["spanId"]
            c.check(ok, f"{label}: hop {i} got multi X-B3 headers with the right ids ({rh})")
            c.check(rh.get("x-b3-parentspanid") == prev["spanId"], f"{label}: hop {i} X-B3-ParentSpanId is the caller's server span")
    return trace_id, debug_alive


def verify_spans(c, label, order, scen, hops, expect, debug_alive, spans):
    """Checks the spans Zipkin stored for one chain: one trace, right parents, joined span ids."""
    n = len(hops)
    c.check(len(spans) == 2 * n - 1, f"{label}: {2 * n - 1} spans stored (got {len(spans)})")
    by_kind = {}
    for sp in spans:
        by_kind.setdefault((sp.get("kind"), sp["localEndpoint"]["serviceName"]), []).append(sp)
    for i, h in enumerate(hops):
        svc = h["service"].lower()
        servers = by_kind.get(("SERVER", svc), [])
        if not c.check(len(servers) == 1, f"{label}: one SERVER span for {svc}"):
            continue
        srv = servers[0]
        c.check(srv["id"] == h["spanId"], f"{label}: {svc} SERVER span id = reported spanId")
        # py_zipkin never writes "debug" into spans; Brave and zipkin-go do.
        want_debug = debug_alive[i] and order[i] != "python"
        c.check(bool(srv.get("debug")) is want_debug, f"{label}: {svc} SERVER debug={want_debug}")
        if i == 0:
            c.check(srv.get("parentId") == expect["parent"], f"{label}: {svc} SERVER parent = {expect['parent']}")
            # Brave joins the caller's span id but drops "shared" when it made the sampling
            # decision itself (deferred): Tracer.decorateContext "cannot be shared if not yet sampled".
            want_shared = bool(expect["span"]) and not (order[0] == "java" and scen == "deferred")
            c.check(bool(srv.get("shared")) is want_shared, f"{label}: {svc} SERVER shared={want_shared}")
        else:
            prev = hops[i - 1]
            pclients = by_kind.get(("CLIENT", prev["service"].lower()), [])
            if c.check(len(pclients) == 1, f"{label}: one CLIENT span for {prev['service']}"):
                cl = pclients[0]
                c.check(cl["id"] == srv["id"], f"{label}: {svc} SERVER joins {prev['service']} CLIENT span id")
                c.check(cl.get("parentId") == prev["spanId"], f"{label}: {prev['service']} CLIENT is child of its SERVER")
                c.check("shared" not in cl, f"{label}: {prev['service']} CLIENT not shared")
            c.check(srv.get("parentId") == prev["spanId"], f"{label}: {svc} SERVER parent = {prev['service']} SERVER")
            c.check(srv.get("shared") is True, f"{label}: {svc} SERVER is shared (joined)")


def check_demo(c, zipkin, demo_url):
    """The py_zipkin blog demo: GET / on demo.py must yield one trace of 4 nested spans."""
    t0 = int(time.time() * 1000) - 1
    status, body = get(demo_url)
    c.check(status == 200 and body == b"OK", f"demo: GET {demo_url} -> {status} {body[:100]!r}")
    want = [("webapp", "index"), ("webapp", "do_stuff"), ("service1", "index_service1"), ("service1", "service1_do_stuff")]
    traces, deadline = [], time.time() + 10
    while time.time() < deadline:
        now = int(time.time() * 1000) + 1
        q = urllib.parse.urlencode({"serviceName": "webapp", "spanName": "index", "endTs": now, "lookback": now - t0})
        status, body = get(f"{zipkin}/api/v2/traces?{q}", timeout=5)
        traces = json.loads(body) if status == 200 else []
        if len(traces) == 1 and len(traces[0]) >= 4:
            break
        time.sleep(0.2)
    if not c.check(len(traces) == 1, f"demo: exactly one new webapp trace (got {len(traces)})"):
        return None
    spans = traces[0]
    c.check(len(spans) == 4, f"demo: 4 spans (got {len(spans)})")
    by_name = {sp.get("name"): sp for sp in spans}
    parent = None
    for svc, name in want:
        sp = by_name.get(name)
        if not c.check(sp is not None, f"demo: span {name} present"):
            return spans
        c.check(sp["localEndpoint"]["serviceName"] == svc, f"demo: {name} service {svc}")
        c.check(sp.get("parentId") == parent, f"demo: {name} parent = {parent}")
        parent = sp["id"]
    return sorted(spans, key=lambda s: s["timestamp"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zipkin", default="http://127.0.0.1:9411")
    ap.add_argument("--peer", action="append", default=[], help="name=http://127.0.0.1:PORT")
    ap.add_argument("--demo", help="also check the blog demo, e.g. http://localhost:5000/")
    ap.add_argument("--format", choices=["multi", "single"], default="multi",
                    help="the peers' B3_FORMAT (outgoing), for header checks")
    ap.add_argument("--dump", help="write observed headers and sample traces here (JSON)")
    args = ap.parse_args()
    peers = dict(p.split("=", 1) for p in args.peer)
    c = Checker()
    dump = {"format": args.format, "sent_by": {}, "received": {}, "traces": {}}

    if args.demo:
        dump["traces"]["demo"] = check_demo(c, args.zipkin, args.demo)

    # 1. Header dumps: each peer -> echo, with and without incoming context.
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    echo_url = f"http://127.0.0.1:{echo.server_address[1]}/echo"
    for name, base in peers.items():
        for scen, (headers, _) in scenarios().items():
            status, body = get(chain_url([base + "/chain", echo_url]), headers)
            if c.check(status == 200, f"dump {name}/{scen}: status {status} {body[:200]!r}"):
                res = json.loads(body)
                dump["sent_by"].setdefault(name, {})[scen] = {
                    "root_request_headers": headers,
                    "peer_saw": res["receivedHeaders"],
                    "peer_reported": {k: res[k] for k in ("traceId", "spanId", "sampled", "debug")},
                    "peer_sent": res["downstream"]["allHeaders"],
                }
    echo.shutdown()

    # 2. Chains through every order of the peers, every scenario.
    pending = []
    for order in itertools.permutations(peers) if peers else []:
        urls = [peers[n] + "/chain" for n in order]
        for scen, (headers, expect) in scenarios().items():
            label = f"{args.format} {'->'.join(order)} [{scen}]"
            status, body = get(chain_url(urls), headers)
            if not c.check(status == 200, f"{label}: status {status} {body[:300]!r}"):
                continue
            hops = flatten(json.loads(body))
            if not c.check(len(hops) == len(order), f"{label}: {len(order)} hops answered"):
                continue
            pending.append((label, order, scen, hops, expect))
            for i in range(1, len(hops)):
                key = f"{order[i - 1]}->{order[i]}"
                dump["received"].setdefault(key, {}).setdefault(scen, hops[i]["receivedHeaders"])
    # 3. Zipkin: wait until every sampled trace has its spans (the collector answers 202 before it
    # stores), give stragglers and would-be unsampled spans one more second, then check each trace.
    checked = []
    for label, order, scen, hops, expect in pending:
        trace_id, debug_alive = verify_response(c, label, order, scen, hops, expect, args.format)
        checked.append((label, order, scen, hops, expect, trace_id, debug_alive))
    deadline = time.time() + 10
    for label, order, scen, hops, expect, trace_id, _ in checked:
        if scen != "unsampled":
            wait_for_spans(args.zipkin, trace_id, 2 * len(hops) - 1, deadline)
    time.sleep(1.0)
    for label, order, scen, hops, expect, trace_id, debug_alive in checked:
        status, body = get(f"{args.zipkin}/api/v2/trace/{trace_id}", timeout=5)
        if scen == "unsampled":
            c.check(status == 404, f"{label}: unsampled trace not stored (got {status} {body[:200]!r})")
            continue
        spans = json.loads(body) if status == 200 else []
        verify_spans(c, label, order, scen, hops, expect, debug_alive, spans)
        if order == tuple(peers):
            dump["traces"][scen] = sorted(spans, key=lambda s: (s["timestamp"], s.get("kind", "")))

    if args.dump:
        with open(args.dump, "w") as f:
            json.dump(dump, f, indent=2, sort_keys=True)
    print(f"smoke ({args.format}{', demo' if args.demo else ''}): {c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
