package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/records"
)

// send sends a body with an Idempotency-Key; safe to call from several
// goroutines (it reports, it does not stop the test).
func send(env *apptest.Env, method, path, key, idemKey, body string) (status int, header http.Header, raw string, err error) {
	req, _ := http.NewRequest(method, env.Server.URL+path, strings.NewReader(body))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b), err
}

// patientsNamed counts the organization's patients with a family name.
func patientsNamed(t *testing.T, env *apptest.Env, key, family string) float64 {
	t.Helper()
	r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family="+family+"&_total=accurate", key, "")
	if r.Status != 200 {
		t.Fatalf("search: %d %s", r.Status, r.Raw)
	}
	n, _ := r.Body["total"].(float64)
	return n
}

// TestIdempotencyKey: a retry with the same key gets the first answer and
// writes nothing; another request with the key is refused; concurrent
// retries make one resource; keys expire after 24 hours and are kept per
// organization and environment.
func TestIdempotencyKey(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		body := `{"firstName":"Ida","lastName":"Retry","email":"ida@example.com"}`

		s1, h1, raw1, err := send(env, "POST", "/v1/patients", a.test, "key-1", body)
		if err != nil || s1 != 201 || h1.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first create: %d %v %s", s1, err, raw1)
		}
		s2, h2, raw2, err := send(env, "POST", "/v1/patients", a.test, "key-1", body)
		if err != nil || s2 != 201 || raw2 != raw1 || h2.Get("Idempotent-Replayed") != "true" ||
			h2.Get("Location") != h1.Get("Location") || h2.Get("Etag") != h1.Get("Etag") {
			t.Fatalf("replay: %d %v %v\n%s\nwant\n%s", s2, err, h2, raw2, raw1)
		}
		if n := patientsNamed(t, env, a.test, "Retry"); n != 1 {
			t.Fatalf("%v patients after a replay, want 1", n)
		}

		// The same key with another body, method or path: refused, naming the header.
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/v1/patients", `{"firstName":"Ida","lastName":"Other"}`},
			{"POST", "/v1/practitioners", body},
		} {
			s, _, raw, _ := send(env, c.method, c.path, a.test, "key-1", c.body)
			if s != 422 || !strings.Contains(raw, `"code":"IDEMPOTENCY_KEY_REUSED"`) || !strings.Contains(raw, "Idempotency-Key") {
				t.Fatalf("key reused for %s %s: %d %s", c.method, c.path, s, raw)
			}
		}

		// A malformed key.
		for _, bad := range []string{"has space", strings.Repeat("k", 256)} {
			if s, _, raw, _ := send(env, "POST", "/v1/patients", a.test, bad, body); s != 422 || !strings.Contains(raw, "Idempotency-Key") {
				t.Fatalf("bad key %q: %d %s", bad, s, raw)
			}
		}

		// An answer that refused the request is kept too.
		s, _, rawBad, _ := send(env, "POST", "/v1/patients", a.test, "key-bad", `{"firstName":"NoLastName"}`)
		s2, h, rawBad2, _ := send(env, "POST", "/v1/patients", a.test, "key-bad", `{"firstName":"NoLastName"}`)
		if s != 422 || s2 != 422 || rawBad2 != rawBad || h.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("kept refusal: %d %d %s", s, s2, rawBad2)
		}

		// 16 concurrent requests with one key: one resource, one answer.
		var wg sync.WaitGroup
		answers := make([]string, 16)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _, raw, err := send(env, "POST", "/v1/patients", a.test, "key-concurrent", `{"firstName":"Cora","lastName":"Concurrent"}`)
				if err != nil || st != 201 {
					t.Errorf("concurrent request %d: %d %v %s", i, st, err, raw)
				}
				answers[i] = raw
			}()
		}
		wg.Wait()
		for i, raw := range answers {
			if raw != answers[0] {
				t.Fatalf("concurrent answers differ: %d: %s\n0: %s", i, raw, answers[0])
			}
		}
		if n := patientsNamed(t, env, a.test, "Concurrent"); n != 1 {
			t.Fatalf("%v patients from 16 concurrent requests with one key, want 1", n)
		}

		// PATCH: a retried patch makes one version.
		var first map[string]any
		if err := json.Unmarshal([]byte(raw1), &first); err != nil {
			t.Fatal(err)
		}
		id := dataOf(t, apiResult{Body: first})["id"].(string)
		p1, _, praw1, _ := send(env, "PATCH", "/v1/patients/"+id, a.test, "key-patch", `{"phone":"+1-555-0101"}`)
		p2, ph2, praw2, _ := send(env, "PATCH", "/v1/patients/"+id, a.test, "key-patch", `{"phone":"+1-555-0101"}`)
		if p1 != 200 || p2 != 200 || praw2 != praw1 || ph2.Get("Etag") != `W/"2"` {
			t.Fatalf("retried patch: %d %d %v %s", p1, p2, ph2, praw2)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, ""); r.Header.Get("Etag") != `W/"2"` {
			t.Fatalf("after a retried patch the patient is at %s, want version 2", r.Header.Get("Etag"))
		}

		// Keys are per organization and environment: the same key elsewhere
		// is a new request.
		for who, key := range map[string]string{"A live": a.live, "B test": b.test} {
			if s, h, _, _ := send(env, "POST", "/v1/patients", key, "key-1", body); s != 201 || h.Get("Idempotent-Replayed") != "" {
				t.Fatalf("%s with A's key: %d replayed=%q", who, s, h.Get("Idempotent-Replayed"))
			}
		}

		// After 24 hours the key is forgotten: a new write.
		env.Clock.Advance(24*time.Hour + time.Second)
		s3, h3, raw3, _ := send(env, "POST", "/v1/patients", a.test, "key-1", body)
		if s3 != 201 || h3.Get("Idempotent-Replayed") != "" || raw3 == raw1 {
			t.Fatalf("after 24 h: %d %v", s3, h3)
		}
		if n := patientsNamed(t, env, a.test, "Retry"); n != 2 {
			t.Fatalf("%v patients after the key expired, want 2", n)
		}
		// And the retention job removes expired keys.
		if err := env.App.Idempotency.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(24*time.Hour + time.Second)
		n, err := env.App.Idempotency.Purge(context.Background())
		if err != nil || n < 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}

// TestAbortedCreates: clients that give up at random moments, and
// connections the server side cuts mid-request, leave, on both engines, no
// change without its audit record and no audit record without its change;
// usage says 201 or 499, never 500.
func TestAbortedCreates(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		const attempts = 40
		var wg sync.WaitGroup
		for i := range attempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(500+rand.IntN(8000))*time.Microsecond)
				defer cancel()
				var body io.Reader = strings.NewReader(`{"firstName":"Abe","lastName":"Aborted"}`)
				if i%2 == 1 {
					// Half the body, then nothing until the client gives up.
					pr, pw := io.Pipe()
					go func() {
						pw.Write([]byte(`{"firstName":"Abe",`))
						<-ctx.Done()
						pw.CloseWithError(ctx.Err())
					}()
					body = pr
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", env.Server.URL+"/v1/patients", body)
				req.Header.Set("x-api-key", a.test)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 201 {
						t.Errorf("attempt %d answered %d", i, res.StatusCode)
					}
				} else if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("attempt %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		// And connections cut from the server's side mid-request, as a
		// shutdown or a proxy would.
		for range 4 {
			for range attempts / 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest("POST", env.Server.URL+"/v1/patients", strings.NewReader(`{"firstName":"Abe","lastName":"Aborted"}`))
					req.Header.Set("x-api-key", a.test)
					req.Header.Set("Content-Type", "application/json")
					if res, err := http.DefaultClient.Do(req); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}()
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			env.Server.CloseClientConnections()
		}
		wg.Wait()

		// Wait until the server has finished every request it received (a
		// request the client gave up on before sending never arrives): the
		// usage records stop growing.
		ctx := context.Background()
		var statuses []int
		for tries, last := 0, -1; tries < 50; tries++ {
			if err := env.App.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := env.App.DB.SQL().QueryContext(ctx, `SELECT status FROM usage_records WHERE org_id = $1 AND method = 'POST'`, a.org)
			if err != nil {
				t.Fatal(err)
			}
			statuses = statuses[:0]
			for rows.Next() {
				var s int
				rows.Scan(&s)
				statuses = append(statuses, s)
			}
			rows.Close()
			if len(statuses) == last {
				break
			}
			last = len(statuses)
			time.Sleep(200 * time.Millisecond)
		}
		created, closed := 0, 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 499:
				closed++
			default:
				t.Errorf("a usage record has status %d, want 201 or 499", s)
			}
		}

		// Stored patients and create audit records are the same set.
		stored := map[string]bool{}
		r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Aborted&_count=100", a.test, "")
		for _, e := range r.Body["entry"].([]any) {
			stored[e.(map[string]any)["resource"].(map[string]any)["id"].(string)] = true
		}
		if err := env.App.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := env.App.Audit.List(ctx, audit.Filter{OrgID: a.org, Action: records.ActionCreate})
		if err != nil {
			t.Fatal(err)
		}
		audited := map[string]int{}
		for _, e := range events {
			if e.TargetType == "Patient" {
				audited[e.TargetID]++
			}
		}
		for id := range stored {
			if audited[id] != 1 {
				t.Errorf("stored Patient/%s has %d create audit records, want 1", id, audited[id])
			}
		}
		for id := range audited {
			if !stored[id] {
				t.Errorf("a create audit record names Patient/%s, which is not stored", id)
			}
		}
		if len(stored) != created {
			t.Errorf("%d patients stored, %d usage records say 201", len(stored), created)
		}
		t.Logf("%d requests reached the server: %d stored (201), %d closed before their write (499)", len(statuses), len(stored), closed)
	})
}

// TestIdempotencyReplayOfDeleted: a kept answer is replayed only while the
// resource it holds is still there (read again, audited); a version
// conflict is not kept, so the retry with the right If-Match runs.
func TestIdempotencyReplayOfDeleted(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		body := `{"firstName":"Dora","lastName":"Deleted","email":"dora@example.com"}`
		s, _, raw, _ := send(env, "POST", "/v1/patients", a.test, "key-del", body)
		if s != 201 {
			t.Fatalf("create: %d %s", s, raw)
		}
		var made map[string]any
		json.Unmarshal([]byte(raw), &made)
		id := made["data"].(map[string]any)["id"].(string)
		if r := simpleCall(t, env, "DELETE", "/v1/patients/"+id, a.test, nil, ""); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		s, h, raw, _ := send(env, "POST", "/v1/patients", a.test, "key-del", body)
		if (s != 404 && s != 410) || strings.Contains(raw, "dora@example.com") || h.Get("Idempotent-Replayed") != "" {
			t.Fatalf("replay after delete: %d %v %s", s, h, raw)
		}

		// A 409 is not kept: the same key with the current version runs.
		if s, _, raw, _ = send(env, "POST", "/v1/patients", a.test, "", `{"firstName":"Vera","lastName":"Version"}`); s != 201 {
			t.Fatalf("create: %d %s", s, raw)
		}
		json.Unmarshal([]byte(raw), &made)
		vid := made["data"].(map[string]any)["id"].(string)
		patch := func(match string) (int, http.Header) {
			req, _ := http.NewRequest("PATCH", env.Server.URL+"/v1/patients/"+vid, strings.NewReader(`{"phone":"+1-555-0177"}`))
			req.Header.Set("x-api-key", a.test)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "key-409")
			req.Header.Set("If-Match", match)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode, res.Header
		}
		if st, _ := patch(`W/"7"`); st != 409 {
			t.Fatalf("stale If-Match: %d", st)
		}
		if st, h := patch(`W/"1"`); st != 200 || h.Get("Idempotent-Replayed") != "" || h.Get("Etag") != `W/"2"` {
			t.Fatalf("retry with the right If-Match and the same key: %d %v", st, h)
		}
	})
}
