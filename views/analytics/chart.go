package analytics

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Chart plot area inside a W×220 viewBox: Wide for full-width cards,
// Narrow for half-width ones, so the text keeps its size.
const (
	Wide        = 720.0
	Narrow      = 400.0
	chartH      = 220.0
	plotLeft    = 56.0
	plotTop     = 12.0
	plotBottom  = 190.0
	maxXTicks   = 6
	chartYTicks = 4
)

// Tick is an axis label at a position.
type Tick struct {
	Pos   float64
	Label string
}

// Segment is one coloured part of a stacked bar.
type Segment struct {
	Y, H  float64
	Class string
}

// Bar is one stacked bar with its hover text.
type Bar struct {
	X, W     float64
	Segments []Segment
	Title    string
}

// Dot is one point of a line, with its hover text.
type Dot struct {
	X, Y  float64
	Title string
	// Alone: a point without neighbours (no line to draw through it), so
	// it is drawn as a visible mark.
	Alone bool
}

// Line is one series of a line chart.
type Line struct {
	Name   string
	Class  string   // stroke/fill colour classes
	Points []string // SVG polyline points, one run per unbroken stretch
	Dots   []Dot
}

// Chart is a server-rendered SVG chart.
type Chart struct {
	W      float64 // viewBox width
	ID     string
	Title  string
	Desc   string
	Bars   []Bar
	Lines  []Line
	YTicks []Tick
	XTicks []Tick
	Legend []LegendItem
	// Hits are the buckets' hover, focus and tap targets, one column each,
	// that show a tooltip and (with Href) open the request log for the
	// bucket's interval. A chart with hits is a group of them; without, a
	// picture with a <title> per bar and point.
	Hits []Hit
}

// Tip is what one bucket's tooltip says.
type Tip struct {
	Head  string   // the interval, e.g. "Dec 6, 14:00–15:00 UTC"
	Lines []string // the values
	Href  string   // the request log for the interval; "" for none
}

// Hit is one bucket's target column.
type Hit struct {
	X, W float64
	Tip
}

// Label is the hit's accessible name: the tooltip's text on one line.
func (h Hit) Label() string {
	s := h.Head + ": " + strings.Join(h.Lines, "; ")
	if h.Href != "" {
		s += ". Opens the request log for this interval."
	}
	return s
}

// Body is the tooltip's lines, one per line.
func (h Hit) Body() string { return strings.Join(h.Lines, "\n") }

// WithTips gives the chart one target column per bucket; tips has one
// entry per bucket, in order.
func (c Chart) WithTips(tips []Tip) Chart {
	n := len(tips)
	if n == 0 {
		return c
	}
	slot := (c.plotRight() - plotLeft) / float64(n)
	c.Hits = make([]Hit, n)
	for i, t := range tips {
		c.Hits[i] = Hit{X: plotLeft + float64(i)*slot, W: slot, Tip: t}
	}
	return c
}

// Role is the SVG's ARIA role: a group of targets, or one picture.
func (c Chart) Role() string {
	if len(c.Hits) > 0 {
		return "group"
	}
	return "img"
}

// LegendItem names a colour.
type LegendItem struct {
	Label string
	Class string // background colour class
}

// StackPoint is one bucket of a stacked bar chart: up to three values,
// bottom first.
type StackPoint struct {
	Label  string // axis label
	Title  string // hover text
	Values []int64
}

// Stacked builds a stacked bar chart; classes colour the stack levels.
func Stacked(w float64, id, title, desc string, pts []StackPoint, classes []string, legend []LegendItem) Chart {
	c := Chart{W: w, ID: id, Title: title, Desc: desc, Legend: legend}
	plotRight := c.plotRight()
	var top int64
	for _, p := range pts {
		var s int64
		for _, v := range p.Values {
			s += v
		}
		top = max(top, s)
	}
	scale := niceMax(float64(top), true)
	c.YTicks = yTicks(scale, func(v float64) string { return Compact(int64(v)) })
	n := len(pts)
	if n == 0 {
		return c
	}
	slot := (plotRight - plotLeft) / float64(n)
	bw := slot * 0.72
	if slot-bw < 1 {
		bw = max(slot-1, 0.5)
	}
	for i, p := range pts {
		b := Bar{X: plotLeft + float64(i)*slot + (slot-bw)/2, W: bw, Title: p.Title}
		y := plotBottom
		for j, v := range p.Values {
			if v == 0 {
				continue
			}
			h := float64(v) / scale * (plotBottom - plotTop)
			y -= h
			b.Segments = append(b.Segments, Segment{Y: y, H: h, Class: classes[j%len(classes)]})
		}
		c.Bars = append(c.Bars, b)
	}
	c.XTicks = xTicks(plotRight, n, func(i int) string { return pts[i].Label })
	return c
}

// Series is one line of a line chart; NaN values leave a gap.
type Series struct {
	Name   string
	Class  string
	Values []float64
	Titles []string // hover text per point
}

// Lines builds a line chart over labels; format writes axis values.
func Lines(w float64, id, title, desc string, labels []string, series []Series, format func(float64) string, legend []LegendItem) Chart {
	c := Chart{W: w, ID: id, Title: title, Desc: desc, Legend: legend}
	plotRight := c.plotRight()
	var top float64
	for _, s := range series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	scale := niceMax(top, false)
	c.YTicks = yTicks(scale, format)
	n := len(labels)
	if n == 0 {
		return c
	}
	slot := (plotRight - plotLeft) / float64(n)
	for _, s := range series {
		l := Line{Name: s.Name, Class: s.Class}
		var pts []string
		flush := func() {
			if len(pts) == 1 {
				l.Dots[len(l.Dots)-1].Alone = true
			}
			if len(pts) > 0 {
				l.Points = append(l.Points, strings.Join(pts, " "))
				pts = nil
			}
		}
		for i, v := range s.Values {
			if math.IsNaN(v) { // no data: a gap, not a zero
				flush()
				continue
			}
			x := plotLeft + (float64(i)+0.5)*slot
			y := plotBottom - v/scale*(plotBottom-plotTop)
			pts = append(pts, f1(x)+","+f1(y))
			title := ""
			if i < len(s.Titles) {
				title = s.Titles[i]
			}
			l.Dots = append(l.Dots, Dot{X: x, Y: y, Title: title})
		}
		flush()
		c.Lines = append(c.Lines, l)
	}
	c.XTicks = xTicks(plotRight, n, func(i int) string { return labels[i] })
	return c
}

func (c Chart) plotRight() float64 { return c.W - 8 }

// ViewBox is the SVG viewBox attribute.
func (c Chart) ViewBox() string { return "0 0 " + f1(c.W) + " " + f1(chartH) }

// XPct and YPct place an axis label, given in viewBox units, in
// percentages of the chart's width and height: the labels are drawn in an
// overlay without a viewBox, so their text is not scaled with the chart.
func (c Chart) XPct(x float64) string { return pct(x / c.W) }

// YPct: see XPct.
func (c Chart) YPct(y float64) string { return pct(y / chartH) }

// PlotBottomPct is where the plot ends, the time labels' top.
func (c Chart) PlotBottomPct() string { return c.YPct(plotBottom) }

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" }

// GridRight is where horizontal grid lines end.
func (c Chart) GridRight() string { return f1(c.plotRight()) }

// xTicks labels the time axis. When some labels are empty, the caller
// chose the ticks (round times, see TimeTicks): exactly the labelled
// buckets get one. Otherwise every step-th bucket does, at most maxXTicks.
func xTicks(plotRight float64, n int, label func(int) string) []Tick {
	slot := (plotRight - plotLeft) / float64(n)
	var chosen []Tick
	some := false
	for i := range n {
		if l := label(i); l != "" {
			chosen = append(chosen, Tick{Pos: plotLeft + (float64(i)+0.5)*slot, Label: l})
		} else {
			some = true
		}
	}
	if some {
		return chosen
	}
	step := max(1, (n+maxXTicks-1)/maxXTicks)
	var out []Tick
	for i := 0; i < n; i += step {
		out = append(out, Tick{Pos: plotLeft + (float64(i)+0.5)*slot, Label: label(i)})
	}
	return out
}

// tickSteps are the time-axis steps, round on a clock or a calendar.
var tickSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour}

// TimeTicks labels the buckets starting at times (UTC, width apart) that
// fall on a round step — 10:00, 10:10, 10:20; every other midnight — with
// the smallest step that gives at most maxXTicks labels (at least min,
// e.g. a day when the labels are dates), and leaves the others empty.
func TimeTicks(times []time.Time, width, min time.Duration, layout string) []string {
	out := make([]string, len(times))
	if len(times) == 0 {
		return out
	}
	span := width * time.Duration(len(times))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if s >= min && s >= width && span/s <= maxXTicks {
			step = s
			break
		}
	}
	any := false
	for i, t := range times {
		if t.UTC().Unix()%int64(step/time.Second) == 0 {
			out[i], any = t.UTC().Format(layout), true
		}
	}
	if !any {
		out[0] = times[0].UTC().Format(layout)
	}
	return out
}

func yTicks(scale float64, format func(float64) string) []Tick {
	var out []Tick
	for i := 0; i <= chartYTicks; i++ {
		v := scale * float64(i) / chartYTicks
		out = append(out, Tick{Pos: plotBottom - float64(i)/chartYTicks*(plotBottom-plotTop), Label: format(v)})
	}
	return out
}

// niceMax is the top of an axis showing v: chartYTicks steps of 1, 2, 2.5
// or 5 times a power of ten, so that every tick is round (0/10/20/30/40, never
// 0/7/15/22/30). Counts (integer) step by 1 at least.
func niceMax(v float64, integer bool) float64 {
	if v <= 0 {
		return chartYTicks // an empty chart still gets distinct ticks
	}
	raw := v / chartYTicks
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m == 2.5 && integer && p < 10 {
			continue // 2.5 is not a count
		}
		if m*p >= raw*(1-1e-9) {
			step = m * p
			break
		}
	}
	if integer {
		step = max(step, 1)
	}
	return step * chartYTicks
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// Compact writes n as 950, 1.2k, 3.4M.
func Compact(n int64) string {
	switch {
	case n >= 1_000_000:
		return trimZero(float64(n)/1_000_000) + "M"
	case n >= 10_000:
		return strconv.FormatInt(n/1000, 10) + "k"
	case n >= 1_000:
		return trimZero(float64(n)/1000) + "k"
	}
	return strconv.FormatInt(n, 10)
}

func trimZero(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

func itoa(n int) string { return strconv.Itoa(n) }

// Colours of the charts, kept here so Tailwind sees them.
var (
	// StatusFills colour the 2xx, 4xx and 5xx parts of a stacked bar.
	StatusFills  = []string{"fill-brand-500", "fill-amber-400", "fill-red-500"}
	StatusLegend = []LegendItem{{Label: "2xx", Class: "bg-brand-500"}, {Label: "4xx", Class: "bg-amber-400"}, {Label: "5xx", Class: "bg-red-500"}}
	// Line colours.
	StrokeBrand  = "stroke-brand-500"
	StrokeAmber  = "stroke-amber-500"
	StrokeRed    = "stroke-red-500"
	StrokeMuted  = "stroke-ink-300"
	StrokeStrong = "stroke-brand-600"
	// LatencyLegend names the percentile lines.
	LatencyLegend = []LegendItem{{Label: "p50", Class: "bg-brand-500"}, {Label: "p95", Class: "bg-amber-500"}, {Label: "p99", Class: "bg-red-500"}}
	QuotaLegend   = []LegendItem{{Label: "Used", Class: "bg-brand-600"}, {Label: "Projection", Class: "bg-ink-300"}}
)
