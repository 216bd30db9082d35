package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

type state struct{ Org, Key string }

func main() {
	dir := flag.String("dir", "/tmp/seed100k", "")
	n := flag.Int("n", 100000, "")
	reqs := flag.Int("reqs", 400, "")
	prof := flag.String("cpuprofile", "", "")
	query := flag.String("q", "name=%s&_count=20", "")
	flag.Parse()
	ctx := context.Background()
	os.MkdirAll(*dir, 0o700)
	cfg, err := config.Load(func(k string) string {
		if k == "CLINIKAPI_DATA_DIR" {
			return *dir
		}
		if k == "DATABASE_URL" {
			return os.Getenv("DATABASE_URL")
		}
		return ""
	})
	must(err)
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), app.Options{})
	must(err)
	defer a.Close()
	var st state
	sf := filepath.Join(*dir, "probe.json")
	if b, err := os.ReadFile(sf); err == nil {
		must(json.Unmarshal(b, &st))
	} else {
		_, o, err := a.CreateUser(ctx, "probe@clinikapi.invalid", "probe password", "", "Probe")
		must(err)
		must(a.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now()))
		k, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "probe", Env: apikey.Test})
		must(err)
		s, err := a.Data.For(ctx, "test", o.ID, false)
		must(err)
		t0 := time.Now()
		res, err := seed.Run(ctx, s, datastore.Tenant(o.ID), *n, 4, nil)
		must(err)
		fmt.Printf("seeded %d resources in %s\n", res.Resources, time.Since(t0))
		st = state{o.ID, k.Secret}
		b, _ := json.Marshal(st)
		must(os.WriteFile(sf, b, 0o600))
	}
	a.Start(ctx)
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var lat []time.Duration
	var bytes int
	for i := range *reqs {
		q := *query
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, strings.ToLower(seed.Family(i * 31)[:3]))
		}
		req := httptest.NewRequest("GET", "/v1/fhir/Patient?"+q, nil)
		req.Header.Set("x-api-key", st.Key)
		w := httptest.NewRecorder()
		t0 := time.Now()
		a.HTTP.ServeHTTP(w, req)
		lat = append(lat, time.Since(t0))
		if w.Code != http.StatusOK {
			fmt.Println(w.Code, w.Body.String()[:200])
			os.Exit(1)
		}
		bytes += w.Body.Len()
	}
	slices.Sort(lat)
	fmt.Printf("%s: %d requests p50 %s p95 %s p99 %s avg bytes %d\n", *query, len(lat), lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)*99/100], bytes/len(lat))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
