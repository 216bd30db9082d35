package app

import "github.com/clinikapi/clinikapi/internal/metrics"

// metrics builds the operator metrics registry with the program's gauges.
func (a *App) metrics() *metrics.Registry {
	r := metrics.New()
	usage := a.Usage
	r.Gauge("clinikapi_usage_buffer_depth", "Usage records buffered in memory, waiting to be written.", func() float64 {
		return float64(usage.Pending())
	})
	return r
}
