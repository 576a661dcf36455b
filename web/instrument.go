package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// instrument returns mux counting its requests in
// lanseedd_http_requests_total{listener, handler, code}. The handler label
// is the route pattern that took the request ("unmatched" for none), never
// the path itself, so the series stay few whatever clients ask for.
func instrument(listener string, mux *http.ServeMux) (http.Handler, *prometheus.CounterVec) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "lanseedd_http_requests_total",
		Help:        "HTTP requests answered, by listener, route pattern and status code.",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, []string{"handler", "code"})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(sw, r)
		// The mux sets r.Pattern on the request it was given.
		requests.WithLabelValues(routeLabel(r.Pattern), strconv.Itoa(sw.status())).Inc()
	})
	return h, requests
}

// routeLabel is a route pattern without its method: "GET /t/{name}" is
// "/t/{name}".
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// statusWriter remembers the status code written through it. ReadFrom
// keeps net/http's sendfile path for the web seed's file bodies.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 { // 1xx are interim answers
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return io.Copy(s.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// status is the code answered: 200 when the handler wrote nothing.
func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
