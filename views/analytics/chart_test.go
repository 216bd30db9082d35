package analytics

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestAxisTicksAreRound(t *testing.T) {
	for _, c := range []struct {
		top     float64
		integer bool
		want    float64
	}{
		{30, true, 40}, {1, true, 4}, {3, true, 4}, {0, true, 4}, {41, true, 80}, {950, true, 1000},
		{0.03, false, 0.04}, {7.5, false, 8}, {120, false, 200},
	} {
		if got := niceMax(c.top, c.integer); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("niceMax(%v) = %v, want %v", c.top, got, c.want)
		}
	}
	ch := Lines(600, "c", "t", "d", []string{"a", "b", "c", "d", "e"}, []Series{{Name: "s", Class: "stroke-brand-600",
		Values: []float64{math.NaN(), 3, math.NaN(), 5, 6}}}, func(v float64) string { return Compact(int64(v)) }, nil)
	var labels []string
	for _, tk := range ch.YTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, "/"); got != "0/2/4/6/8" {
		t.Errorf("ticks %s, want 0/2/4/6/8", got)
	}
	// The point without neighbours is marked; the joined ones are a line.
	alone := 0
	for _, d := range ch.Lines[0].Dots {
		if d.Alone {
			alone++
		}
	}
	if alone != 1 || len(ch.Lines[0].Points) != 2 {
		t.Errorf("%d lone points and %d line segments, want 1 and 2", alone, len(ch.Lines[0].Points))
	}
}

func TestTimeTicksAreRound(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse("2006-01-02 15:04", s); return v }
	series := func(from time.Time, n int, w time.Duration) []time.Time {
		var out []time.Time
		for i := range n {
			out = append(out, from.Add(time.Duration(i)*w))
		}
		return out
	}
	for _, c := range []struct {
		name  string
		times []time.Time
		width time.Duration
		min   time.Duration
		want  string
	}{
		{"last hour by minute", series(at("2026-11-23 08:17"), 61, time.Minute), time.Minute, 0, "08:20/08:30/08:40/08:50/09:00/09:10"},
		{"24 h by hour", series(at("2026-11-22 09:00"), 25, time.Hour), time.Hour, 0, "12:00/18:00/00:00/06:00"},
		{"7 days by hour, dates", series(at("2026-11-16 09:00"), 169, time.Hour), time.Hour, 24 * time.Hour, "Nov 17/Nov 19/Nov 21/Nov 23"},
		{"30 days by day", series(at("2026-10-24 00:00"), 31, 24*time.Hour), 24 * time.Hour, 0, "Oct 29/Nov 5/Nov 12/Nov 19"},
	} {
		layout := "15:04"
		if c.min >= 24*time.Hour || c.width >= 24*time.Hour {
			layout = "Jan 2"
		}
		var got []string
		for _, l := range TimeTicks(c.times, c.width, c.min, layout) {
			if l != "" {
				got = append(got, l)
			}
		}
		if g := strings.Join(got, "/"); g != c.want {
			t.Errorf("%s: ticks %s, want %s", c.name, g, c.want)
		}
	}
}
