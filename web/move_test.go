package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/records"
)

// moveWriter writes continuously with a live key while a move runs:
// creates, updates and deletes, retrying what the fence refuses (503 with
// Retry-After), and remembers the version every acknowledged write made.
type moveWriter struct {
	env *apptest.Env
	key string

	mu       sync.Mutex
	versions map[string]int  // Patient id → last acknowledged version
	deleted  map[string]bool // acknowledged deletions
	refused  int             // 503s met (and retried)
	failures []string
}

func (w *moveWriter) do(method, path, body string) (int, map[string]any) {
	for {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, w.env.Server.URL+path, rd)
		req.Header.Set("x-api-key", w.key)
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
			w.mu.Lock()
			w.refused++
			w.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
}

func (w *moveWriter) fail(format string, args ...any) {
	w.mu.Lock()
	w.failures = append(w.failures, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// step makes one write: a create, then an update of it, and every fifth
// step deletes one.
func (w *moveWriter) step(i int) {
	st, body := w.do("POST", "/v1/fhir/Patient", `{"resourceType":"Patient","name":[{"family":"Move`+strconv.Itoa(i)+`"}]}`)
	if st != 201 {
		w.fail("create %d: %d", i, st)
		return
	}
	id := body["id"].(string)
	st, body = w.do("PUT", "/v1/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Move`+strconv.Itoa(i)+`","given":["v2"]}]}`)
	if st != 200 {
		w.fail("update %d: %d", i, st)
		return
	}
	v, _ := strconv.Atoi(body["meta"].(map[string]any)["versionId"].(string))
	w.mu.Lock()
	w.versions[id] = v
	w.mu.Unlock()
	if i%5 == 0 {
		if st, _ := w.do("DELETE", "/v1/fhir/Patient/"+id, ""); st != 204 {
			w.fail("delete %d: %d", i, st)
			return
		}
		w.mu.Lock()
		w.versions[id] = v + 1
		w.deleted[id] = true
		w.mu.Unlock()
	}
}

// check reads every resource the writer wrote, and its history.
func (w *moveWriter) check(t *testing.T, when string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failures) > 0 {
		t.Fatalf("%s: writes failed: %v", when, w.failures)
	}
	for id, v := range w.versions {
		r := fhirCall(t, w.env, "GET", "/v1/fhir/Patient/"+id, w.key, "")
		if w.deleted[id] {
			if r.Status != 410 {
				t.Fatalf("%s: deleted Patient/%s answers %d, want 410", when, id, r.Status)
			}
		} else {
			if r.Status != 200 {
				t.Fatalf("%s: Patient/%s answers %d, want 200 (%s)", when, id, r.Status, r.Raw)
			}
			if got := r.Body["meta"].(map[string]any)["versionId"]; got != strconv.Itoa(v) {
				t.Fatalf("%s: Patient/%s is at version %v, want %d", when, id, got, v)
			}
		}
		h := fhirCall(t, w.env, "GET", "/v1/fhir/Patient/"+id+"/_history", w.key, "")
		if h.Status != 200 {
			t.Fatalf("%s: history of Patient/%s: %d", when, id, h.Status)
		}
		if n := len(h.Body["entry"].([]any)); n != v {
			t.Fatalf("%s: history of Patient/%s has %d versions, want %d", when, id, n, v)
		}
	}
}

// waitMove waits until the organization's move to the datastore to has
// reached phase.
func waitMove(t *testing.T, env *apptest.Env, orgID, to, phase string) records.Move {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		mv, err := env.App.Mover.Status(context.Background(), orgID)
		if err != nil {
			t.Fatal(err)
		}
		if mv.Phase == phase && mv.To == to {
			return mv
		}
		if time.Now().After(deadline) {
			t.Fatalf("the move did not reach %s: %+v", phase, mv)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPlanChangeMovesLiveData: upgrading to Enterprise moves the live data
// into the dedicated datastore, and downgrading moves it back, while a
// client keeps writing; afterwards every resource it wrote reads at the
// version it was acknowledged at, with its whole history, and the old
// copy is gone. Test data stays where it is.
func TestPlanChangeMovesLiveData(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		a, b := twoTenants(t, env)
		env.App.Mover.Grace = 0
		w := &moveWriter{env: env, key: a.live, versions: map[string]int{}, deleted: map[string]bool{}}
		for i := range 40 { // data before the move
			w.step(i)
		}
		testPatient := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, patientJSON)
		otherPatient := fhirCall(t, env, "POST", "/v1/fhir/Patient", b.live, patientJSON)
		owner := env.Browser()
		owner.SignIn("a@example.com", pw)

		move := func(planID, to string) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1000 * len(w.versions); ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					w.step(i)
				}
			}()
			time.Sleep(100 * time.Millisecond) // writes before the plan change
			if err := env.App.Billing.SetPlanSystem(ctx, a.org, planID, "test"); err != nil {
				t.Fatal(err)
			}
			waitMove(t, env, a.org, to, records.MoveDone)
			time.Sleep(200 * time.Millisecond) // writes after the switch too
			close(stop)
			wg.Wait()
		}

		move("enterprise", datastore.Name("live", a.org, true))
		w.check(t, "after the move to the dedicated datastore")
		page := owner.Get("/o/" + a.org + "/billing")
		wantText(t, "billing page after the move", page, "Live data moved to the organization", "dedicated datastore", "moved and verified")
		shared, _ := env.App.Data.Named(ctx, "live")
		if n, err := shared.TenantRows(ctx, datastore.Tenant(a.org)); err != nil || n != 0 {
			t.Fatalf("the shared live datastore still holds %d rows of the organization (%v)", n, err)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+otherPatient.Body["id"].(string), b.live, ""); r.Status != 200 {
			t.Fatalf("another organization's live patient: %d", r.Status)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+testPatient.Body["id"].(string), a.test, ""); r.Status != 200 {
			t.Fatalf("the test patient: %d", r.Status)
		}
		// A search sees the moved data as well.
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_summary=count", a.live, ""); r.Status != 200 || int(r.Body["total"].(float64)) != len(w.versions)-len(w.deleted) {
			t.Fatalf("count after the move: %d %v, want %d", r.Status, r.Body["total"], len(w.versions)-len(w.deleted))
		}

		move("team", "live")
		w.check(t, "after the move back to the shared datastore")
		ded, _ := env.App.Data.Named(ctx, datastore.Name("live", a.org, true))
		if n, err := ded.TenantRows(ctx, datastore.Tenant(a.org)); err != nil || n != 0 {
			t.Fatalf("the dedicated datastore still holds %d rows (%v)", n, err)
		}
		t.Logf("%s: %d resources written, %d writes refused during fences and retried", engine, len(w.versions), w.refused)
	})
}

// crashingMoves is the move store of a server that dies: from the nth
// progress report on, nothing it does is stored any more.
type crashingMoves struct {
	records.MoveStore
	mu    sync.Mutex
	saves int
	n     int
}

func (c *crashingMoves) SaveMove(ctx context.Context, m records.Move, holder string, until time.Time) error {
	c.mu.Lock()
	c.saves++
	dead := c.saves >= c.n
	c.mu.Unlock()
	if dead {
		return fmt.Errorf("the server died")
	}
	return c.MoveStore.SaveMove(ctx, m, holder, until)
}

func (c *crashingMoves) ReleaseMove(context.Context, string, string) error {
	return fmt.Errorf("the server died")
}

// TestPlanChangeMoveResumes: a server that dies during a move (in the
// copy, in a catch-up pass, in the fence) leaves it where its last
// progress report says; once its claim lapses the next worker resumes it
// and every resource arrives, with its history.
func TestPlanChangeMoveResumes(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		for _, crashAt := range []int{2, 4, 6} {
			t.Run("save "+strconv.Itoa(crashAt), func(t *testing.T) {
				env := apptest.New(t, engine, nil)
				ctx := context.Background()
				a, _ := twoTenants(t, env)
				env.App.Mover.Grace = 0
				w := &moveWriter{env: env, key: a.live, versions: map[string]int{}, deleted: map[string]bool{}}
				for i := range 30 {
					w.step(i)
				}
				// The dying worker claims the move before the plan changes,
				// so the server's own worker cannot take it first.
				now := env.Clock.Now()
				if ok, err := env.App.DB.ClaimMove(ctx, a.org, "dying", now, now.Add(time.Minute)); err != nil || !ok {
					t.Fatalf("claim: %v %v", ok, err)
				}
				setPlanSQL(t, env, a.org, "enterprise")
				dying := &records.Mover{Records: env.App.Records, Store: &crashingMoves{MoveStore: env.App.DB, n: crashAt},
					Log: env.App.Log, Now: env.Clock.Now, Changed: env.App.Mover.Changed, Holder: "dying"}
				if err := dying.Step(ctx); err == nil {
					t.Fatal("the dying worker reported no failure")
				}
				mv, _ := env.App.Mover.Status(ctx, a.org)
				if !mv.Active() {
					t.Fatalf("after the crash the move is %+v, want it under way", mv)
				}
				if mv.Phase == records.MoveCopying {
					for i := 100; i < 110; i++ { // writes while nobody moves
						w.step(i)
					}
				}
				env.Clock.Advance(2 * time.Minute) // the claim lapses
				waitMove(t, env, a.org, datastore.Name("live", a.org, true), records.MoveDone)
				w.check(t, "after the resumed move")
				shared, _ := env.App.Data.Named(ctx, "live")
				if n, err := shared.TenantRows(ctx, datastore.Tenant(a.org)); err != nil || n != 0 {
					t.Fatalf("the shared live datastore still holds %d rows (%v)", n, err)
				}
			})
		}
	})
}
