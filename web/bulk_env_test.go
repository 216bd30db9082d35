package web_test

import (
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestBulkJobStatusStaysInItsEnvironment: a job belongs to the environment
// of the key that started it, like the data it carries. A test key cannot
// read a live job's status, nor a live key a test job's, and another
// organization's key sees neither.
func TestBulkJobStatusStaysInItsEnvironment(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		liveJob := startedJob(t, bulkCall(t, env, "/v1/bulk/export", a.live, map[string]any{}))
		testJob := startedJob(t, bulkCall(t, env, "/v1/bulk/export", a.test, map[string]any{}))
		for _, c := range []struct {
			what, key, job string
			want           int
		}{
			{"live key, live job", a.live, liveJob, 200},
			{"test key, test job", a.test, testJob, 200},
			{"test key, live job", a.test, liveJob, 404},
			{"live key, test job", a.live, testJob, 404},
			{"other organization's test key", b.test, testJob, 404},
			{"other organization's live key", b.live, liveJob, 404},
		} {
			r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+c.job, c.key, nil)
			if r.Status != c.want {
				t.Errorf("%s: status %d, want %d\n%s", c.what, r.Status, c.want, r.Raw)
			}
		}
	})
}
