package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/interp-dev/interp/internal/session"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg *prometheus.Registry

	executions   *prometheus.CounterVec // by status
	execDuration prometheus.Histogram
	installs     *prometheus.CounterVec // by phase: installed, failed
	tokens       *prometheus.CounterVec // by direction: input, output
	tasks        *prometheus.CounterVec // by stop
	errors       *prometheus.CounterVec // by type
	requests     *prometheus.CounterVec // by route, method, status
	reqDuration  *prometheus.HistogramVec
}

func newMetrics(sessionsOpen func() float64, pool *session.Pool) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_executions_total", Help: "Code executions, by how they ended (ok, error, interrupted, timeout, died).",
		}, []string{"status"}),
		execDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "interp_execution_duration_seconds", Help: "Wall-clock time of code executions.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
		installs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_package_installs_total", Help: "Package installs that ended, by phase (installed, failed).",
		}, []string{"phase"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_llm_tokens_total", Help: "Language-model tokens used by tasks, by direction (input, output).",
		}, []string{"direction"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_tasks_total", Help: "Tasks run, by why they stopped (answer, max_steps, token_budget, ...).",
		}, []string{"stop"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_errors_total", Help: "Errors, by type (auth, not_found, validation, conflict, too_large, quota, unavailable, internal, history, llm).",
		}, []string{"type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "interp_http_requests_total", Help: "HTTP requests, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "interp_http_request_duration_seconds", Help: "HTTP request durations, by route pattern (streams included).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "interp_sessions_open", Help: "Sessions open now."}, sessionsOpen),
		// The warm pool grows under demand within its memory budget: these
		// show how far, for sizing pool_max and pool_memory.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "interp_pool_ready", Help: "Sessions ready in the warm pool now."},
			func() float64 { return float64(pool.Ready()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "interp_pool_target", Help: "Sessions the warm pool aims to hold now, between pool_size and pool_max."},
			func() float64 { return float64(pool.Stats().Target) }),
		// Sessions the pool cannot serve are forked from their user's zygote.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "interp_pool_zygotes", Help: "Zygotes ready to fork sessions, one per recent user at most."},
			func() float64 { return float64(pool.Stats().Zygotes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "interp_pool_fork_failures_total", Help: "Sessions whose fork from a zygote failed and which started from nothing instead."},
			func() float64 { return float64(pool.Stats().ForkFailures) }),
		m.executions, m.execDuration, m.installs, m.tokens, m.tasks, m.errors, m.requests, m.reqDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// request counts one HTTP request, and its error if it failed.
func (m *metrics) request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.reqDuration.WithLabelValues(route).Observe(d.Seconds())
	if t := errorType(status); t != "" && status != 401 { // 401s are counted where they happen
		m.errors.WithLabelValues(t).Inc()
	}
}

// errorType names the kind of error a status is, "" for success.
func errorType(status int) string {
	switch {
	case status < 400:
		return ""
	case status == 401:
		return "auth"
	case status == 404 || status == 405:
		return "not_found"
	case status == 400 || status == 422:
		return "validation"
	case status == 409:
		return "conflict"
	case status == 413:
		return "too_large"
	case status == 429:
		return "quota"
	case status == 503:
		return "unavailable"
	case status >= 500:
		return "internal"
	}
	return "client"
}
