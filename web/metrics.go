package web

import (
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/metrics"
)

// observe counts every request in the operator metrics, by route class,
// and the requests in flight.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.Metrics.Begin()
		defer s.Metrics.End()
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.Metrics.Observe(metrics.Class(c.Request().URL.Path), c.Response().Status, time.Since(start))
		return nil
	}
}

// metrics serves the Prometheus exposition (text format unless the
// scraper asks for another) to holders of the metrics token. Without a configured token the endpoint does not exist.
func (s *Server) metrics(c echo.Context) error {
	if s.MetricsToken == "" || s.Metrics == nil {
		return errs.E(errs.NotFound, "There is nothing at this address.")
	}
	got := c.Request().Header.Get("Authorization")
	want := "Bearer " + s.MetricsToken
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		return c.String(http.StatusUnauthorized, "metrics need the bearer token (CLINIKAPI_METRICS_TOKEN)\n")
	}
	var runs []jobs.Run
	if s.Jobs != nil {
		runs, _ = s.Jobs.Status(c.Request().Context())
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	s.Metrics.Handler(runs).ServeHTTP(c.Response(), c.Request())
	return nil
}
