package analytics

import (
	"math"
	"strings"
	"testing"
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
