// Interop peer built on Brave: brave.http.HttpServerHandler extracts B3 (single `b3` or multi
// X-B3-*) with Brave's own B3Propagation, brave.http.HttpClientHandler opens the CLIENT span and
// injects B3, and zipkin-reporter's AsyncZipkinSpanHandler + URLConnectionSender post JSON v2 spans.
// Transport is the JDK's own com.sun.net.httpserver / HttpURLConnection wrapped in Brave's
// HttpServerRequest/HttpClientRequest adapters. See tests/interop/README.md for the protocol.
//
// Environment: PORT (default 8082), SERVICE_NAME (default java-peer),
// ZIPKIN_ENDPOINT (default http://127.0.0.1:9411/api/v2/spans), B3_FORMAT multi|single (outgoing).

import brave.Span;
import brave.Tracer;
import brave.Tracing;
import brave.http.HttpClientHandler;
import brave.http.HttpClientRequest;
import brave.http.HttpClientResponse;
import brave.http.HttpServerHandler;
import brave.http.HttpServerRequest;
import brave.http.HttpServerResponse;
import brave.http.HttpTracing;
import brave.propagation.B3Propagation;
import brave.propagation.TraceContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URL;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import zipkin2.reporter.BytesMessageSender;
import zipkin2.reporter.brave.AsyncZipkinSpanHandler;
import zipkin2.reporter.urlconnection.URLConnectionSender;

public final class Peer {
  static String env(String key, String def) {
    String v = System.getenv(key);
    return v == null || v.isEmpty() ? def : v;
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(env("PORT", "8082"));
    String serviceName = env("SERVICE_NAME", "java-peer");
    String zipkinEndpoint = env("ZIPKIN_ENDPOINT", "http://127.0.0.1:9411/api/v2/spans");
    String b3Format = env("B3_FORMAT", "multi");
    if (!b3Format.equals("multi") && !b3Format.equals("single")) {
      throw new IllegalArgumentException("B3_FORMAT must be multi or single, not " + b3Format);
    }

    URLConnectionSender sender = URLConnectionSender.create(zipkinEndpoint);
    AsyncZipkinSpanHandler spanHandler = AsyncZipkinSpanHandler.newBuilder((BytesMessageSender) sender)
        .messageTimeout(100, TimeUnit.MILLISECONDS) // default 1 s; report promptly
        .build();
    Tracing.Builder builder = Tracing.newBuilder()
        .localServiceName(serviceName)
        .localIp("127.0.0.1")
        .localPort(port)
        .addSpanHandler(spanHandler);
    if (b3Format.equals("single")) {
      // Brave's own single-header injector; extraction still accepts both formats.
      builder.propagationFactory(B3Propagation.newFactoryBuilder()
          .injectFormat(B3Propagation.Format.SINGLE)
          .injectFormat(Span.Kind.CLIENT, B3Propagation.Format.SINGLE)
          .build());
    } // else: the default B3Propagation.FACTORY, multi X-B3-* on CLIENT requests
    Tracing tracing = builder.build();
    HttpTracing httpTracing = HttpTracing.create(tracing);
    HttpServerHandler<HttpServerRequest, HttpServerResponse> serverHandler =
        HttpServerHandler.create(httpTracing);
    HttpClientHandler<HttpClientRequest, HttpClientResponse> clientHandler =
        HttpClientHandler.create(httpTracing);
    Tracer tracer = tracing.tracer();

    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
    server.setExecutor(Executors.newFixedThreadPool(16));
    server.createContext("/health", exchange -> respond(exchange, 200, "text/plain", "OK\n"));
    server.createContext("/chain", exchange -> {
      ServerRequest request = new ServerRequest(exchange);
      Span span = serverHandler.handleReceive(request); // extracts B3, starts the SERVER span
      int status = 500;
      Throwable error = null;
      try (Tracer.SpanInScope ws = tracer.withSpanInScope(span)) {
        TraceContext ctx = span.context();
        Map<String, String> received = new TreeMap<>();
        exchange.getRequestHeaders().forEach((name, values) -> {
          String lower = name.toLowerCase(Locale.ROOT);
          if (lower.equals("b3") || lower.startsWith("x-b3-")) received.put(lower, String.join(",", values));
        });
        List<String> hops = new ArrayList<>();
        for (String h : queryParam(exchange.getRequestURI(), "hops").split(",")) {
          if (!h.trim().isEmpty()) hops.add(h.trim());
        }
        String downstream = "null";
        String errorMessage = null;
        status = 200;
        if (!hops.isEmpty()) {
          try {
            downstream = callNext(clientHandler, hops.get(0), hops.subList(1, hops.size()));
          } catch (Exception e) {
            status = 502;
            errorMessage = e.toString();
            error = e;
          }
        }
        StringBuilder json = new StringBuilder("{");
        json.append("\"service\":").append(quote(serviceName));
        json.append(",\"traceId\":").append(quote(ctx.traceIdString()));
        json.append(",\"spanId\":").append(quote(ctx.spanIdString()));
        json.append(",\"sampled\":").append(ctx.sampled() == null ? "null" : ctx.sampled().toString());
        json.append(",\"debug\":").append(ctx.debug());
        json.append(",\"receivedHeaders\":{");
        boolean first = true;
        for (Map.Entry<String, String> e : received.entrySet()) {
          if (!first) json.append(',');
          first = false;
          json.append(quote(e.getKey())).append(':').append(quote(e.getValue()));
        }
        json.append("},\"downstream\":").append(downstream);
        if (errorMessage != null) json.append(",\"error\":").append(quote(errorMessage));
        json.append("}\n");
        respond(exchange, status, "application/json", json.toString());
      } catch (RuntimeException | IOException | Error e) {
        error = e;
        throw e;
      } finally {
        serverHandler.handleSend(new ServerResponse(request, status, error), span);
      }
    });

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.stop(0);
      tracing.close();
      spanHandler.close(); // flushes queued spans (closeTimeout, default 1 s)
      sender.close();
    }, "peer-shutdown"));

    server.start();
    System.err.println("brave peer " + serviceName + " listening on 127.0.0.1:" + port
        + " (b3 out: " + b3Format + ", zipkin: " + zipkinEndpoint + ")");
  }

  /** GETs next?hops=rest inside a CLIENT span; HttpClientHandler injects B3 via request.header(k, v). */
  static String callNext(HttpClientHandler<HttpClientRequest, HttpClientResponse> clientHandler,
      String next, List<String> rest) throws IOException {
    String sep = next.contains("?") ? "&" : "?";
    URL url = URI.create(next + sep + "hops="
        + URLEncoder.encode(String.join(",", rest), StandardCharsets.UTF_8)).toURL();
    HttpURLConnection conn = (HttpURLConnection) url.openConnection();
    conn.setConnectTimeout(5000);
    conn.setReadTimeout(30000);
    ClientRequest request = new ClientRequest(conn);
    Span span = clientHandler.handleSend(request); // child of the SERVER span in scope
    int status = 0;
    Throwable error = null;
    try {
      status = conn.getResponseCode();
      InputStream in = status >= 400 ? conn.getErrorStream() : conn.getInputStream();
      String body = in == null ? "" : readAll(in).trim();
      if (status != 200) throw new IOException("GET " + url + ": status " + status + " body " + body);
      return body.isEmpty() ? "null" : body;
    } catch (IOException | RuntimeException e) {
      error = e;
      throw e;
    } finally {
      clientHandler.handleReceive(new ClientResponse(request, status, error), span);
      conn.disconnect();
    }
  }

  static final class ServerRequest extends HttpServerRequest {
    final HttpExchange exchange;

    ServerRequest(HttpExchange exchange) { this.exchange = exchange; }

    @Override public Object unwrap() { return exchange; }
    @Override public String method() { return exchange.getRequestMethod(); }
    @Override public String path() { return exchange.getRequestURI().getPath(); }
    @Override public String url() {
      return "http://" + exchange.getRequestHeaders().getFirst("Host") + exchange.getRequestURI();
    }
    @Override public String header(String name) { return exchange.getRequestHeaders().getFirst(name); }
    @Override public boolean parseClientIpAndPort(Span span) {
      if (parseClientIpFromXForwardedFor(span)) return true;
      InetSocketAddress remote = exchange.getRemoteAddress();
      return remote != null && span.remoteIpAndPort(remote.getAddress().getHostAddress(), remote.getPort());
    }
  }

  static final class ServerResponse extends HttpServerResponse {
    final ServerRequest request;
    final int status;
    final Throwable error;

    ServerResponse(ServerRequest request, int status, Throwable error) {
      this.request = request;
      this.status = status;
      this.error = error;
    }

    @Override public Object unwrap() { return request.exchange; }
    @Override public ServerRequest request() { return request; }
    @Override public Throwable error() { return error; }
    @Override public int statusCode() { return status; }
  }

  static final class ClientRequest extends HttpClientRequest {
    final HttpURLConnection conn;

    ClientRequest(HttpURLConnection conn) { this.conn = conn; }

    @Override public Object unwrap() { return conn; }
    @Override public String method() { return conn.getRequestMethod(); }
    @Override public String path() { return conn.getURL().getPath(); }
    @Override public String url() { return conn.getURL().toString(); }
    @Override public String header(String name) { return conn.getRequestProperty(name); }
    @Override public void header(String name, String value) { conn.setRequestProperty(name, value); }
  }

  static final class ClientResponse extends HttpClientResponse {
    final ClientRequest request;
    final int status;
    final Throwable error;

    ClientResponse(ClientRequest request, int status, Throwable error) {
      this.request = request;
      this.status = status;
      this.error = error;
    }

    @Override public Object unwrap() { return request.conn; }
    @Override public ClientRequest request() { return request; }
    @Override public Throwable error() { return error; }
    @Override public int statusCode() { return status; }
  }

  static String queryParam(URI uri, String name) {
    String raw = uri.getRawQuery();
    if (raw == null) return "";
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      if (key.equals(name)) {
        return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return "";
  }

  static void respond(HttpExchange exchange, int status, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  static String readAll(InputStream in) throws IOException {
    try (InputStream is = in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      is.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
