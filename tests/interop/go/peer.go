// Interop peer built on openzipkin/zipkin-go: its HTTP server middleware extracts B3 (single `b3`
// or multi X-B3-*), its HTTP client transport opens a CLIENT span and injects B3, and its HTTP
// reporter posts JSON v2 spans to Zipkin. See tests/interop/README.md for the protocol.
//
// Environment: PORT (default 8083), SERVICE_NAME (default go-peer),
// ZIPKIN_ENDPOINT (default http://127.0.0.1:9411/api/v2/spans), B3_FORMAT multi|single (outgoing).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	zipkin "github.com/openzipkin/zipkin-go"
	zipkinhttp "github.com/openzipkin/zipkin-go/middleware/http"
	"github.com/openzipkin/zipkin-go/propagation/b3"
	reporterhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// singleHeaderRoundTripper sits *inside* zipkin-go's client transport. zipkin-go's transport
// always injects multi X-B3-* headers; for B3_FORMAT=single this re-encodes them with zipkin-go's
// own code: b3.ExtractHTTP parses what the transport injected, then b3.InjectHTTP with
// WithSingleHeaderOnly writes the single `b3` header.
type singleHeaderRoundTripper struct{ next http.RoundTripper }

func (s singleHeaderRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	sc, err := b3.ExtractHTTP(req)()
	if err != nil || sc == nil {
		return s.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	for _, h := range []string{b3.TraceID, b3.SpanID, b3.ParentSpanID, b3.Sampled, b3.Flags} {
		req.Header.Del(h)
	}
	if err := b3.InjectHTTP(req, b3.WithSingleHeaderOnly())(*sc); err != nil {
		return nil, err
	}
	return s.next.RoundTrip(req)
}

type chainResponse struct {
	Service         string            `json:"service"`
	TraceID         string            `json:"traceId"`
	SpanID          string            `json:"spanId"`
	Sampled         *bool             `json:"sampled"`
	Debug           bool              `json:"debug"`
	ReceivedHeaders map[string]string `json:"receivedHeaders"`
	Downstream      json.RawMessage   `json:"downstream"`
	Error           string            `json:"error,omitempty"`
}

func main() {
	port := getenv("PORT", "8083")
	serviceName := getenv("SERVICE_NAME", "go-peer")
	zipkinEndpoint := getenv("ZIPKIN_ENDPOINT", "http://127.0.0.1:9411/api/v2/spans")
	b3Format := getenv("B3_FORMAT", "multi")
	if b3Format != "multi" && b3Format != "single" {
		log.Fatalf("B3_FORMAT must be multi or single, not %q", b3Format)
	}

	rep := reporterhttp.NewReporter(zipkinEndpoint, reporterhttp.BatchInterval(100*time.Millisecond))
	endpoint, err := zipkin.NewEndpoint(serviceName, "127.0.0.1:"+port)
	if err != nil {
		log.Fatalf("endpoint: %v", err)
	}
	// Library defaults otherwise: AlwaysSample, shared (joined) server spans, 64-bit trace IDs.
	tracer, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(endpoint))
	if err != nil {
		log.Fatalf("tracer: %v", err)
	}

	var inner http.RoundTripper = http.DefaultTransport
	if b3Format == "single" {
		inner = singleHeaderRoundTripper{next: http.DefaultTransport}
	}
	transport, err := zipkinhttp.NewTransport(tracer, zipkinhttp.RoundTripper(inner))
	if err != nil {
		log.Fatalf("transport: %v", err)
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "OK\n")
	})
	// Only /chain is traced (span name defaults to the HTTP method); /health is not.
	mux.Handle("/chain", zipkinhttp.NewServerMiddleware(tracer)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received := map[string]string{}
		for name, values := range r.Header {
			lower := strings.ToLower(name)
			if lower == "b3" || strings.HasPrefix(lower, "x-b3-") {
				received[lower] = strings.Join(values, ",")
			}
		}
		span := zipkin.SpanFromContext(r.Context()) // the middleware's SERVER span
		sc := span.Context()
		resp := chainResponse{
			Service:         serviceName,
			TraceID:         sc.TraceID.String(),
			SpanID:          sc.ID.String(),
			Sampled:         sc.Sampled,
			Debug:           sc.Debug,
			ReceivedHeaders: received,
			Downstream:      json.RawMessage("null"),
		}
		status := http.StatusOK
		var hops []string
		for _, h := range strings.Split(r.URL.Query().Get("hops"), ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
		if len(hops) > 0 {
			body, err := callNext(r.Context(), client, hops[0], hops[1:])
			if body != nil {
				resp.Downstream = body
			}
			if err != nil {
				status = http.StatusBadGateway
				resp.Error = err.Error()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(resp)
	})))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}

	done := make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = rep.Close() // flushes pending spans
		close(done)
	}()

	log.Printf("zipkin-go peer %s listening on 127.0.0.1:%s (b3 out: %s, zipkin: %s)", serviceName, port, b3Format, zipkinEndpoint)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	<-done
}

// callNext GETs next?hops=<rest> inside a CLIENT span opened by zipkin-go's transport, as a
// child of the SERVER span carried in ctx.
func callNext(ctx context.Context, client *http.Client, next string, rest []string) (json.RawMessage, error) {
	u, err := url.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("bad hop URL %q: %w", next, err)
	}
	q := u.Query()
	q.Set("hops", strings.Join(rest, ","))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("GET %s: status %d, non-JSON body %q", u, res.StatusCode, string(body))
	}
	if res.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: status %d", u, res.StatusCode)
	}
	return json.RawMessage(body), nil
}
