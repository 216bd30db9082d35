package analytics

import (
	"strconv"
	"strings"
)

// Chart plot area inside a 720×220 viewBox.
const (
	chartW      = 720.0
	chartH      = 220.0
	plotLeft    = 56.0
	plotRight   = 712.0
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
}

// Line is one series of a line chart.
type Line struct {
	Name   string
	Class  string // stroke/fill colour classes
	Points string // SVG polyline points
	Dots   []Dot
}

// Chart is a server-rendered SVG chart.
type Chart struct {
	ID     string
	Title  string
	Desc   string
	Bars   []Bar
	Lines  []Line
	YTicks []Tick
	XTicks []Tick
	Legend []LegendItem
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
func Stacked(id, title, desc string, pts []StackPoint, classes []string, legend []LegendItem) Chart {
	c := Chart{ID: id, Title: title, Desc: desc, Legend: legend}
	var top int64
	for _, p := range pts {
		var s int64
		for _, v := range p.Values {
			s += v
		}
		top = max(top, s)
	}
	scale := niceMax(float64(top))
	c.YTicks = yTicks(scale, func(v float64) string { return Compact(int64(v)) })
	n := len(pts)
	if n == 0 {
		return c
	}
	slot := (plotRight - plotLeft) / float64(n)
	w := slot * 0.72
	if slot-w < 1 {
		w = max(slot-1, 0.5)
	}
	for i, p := range pts {
		b := Bar{X: plotLeft + float64(i)*slot + (slot-w)/2, W: w, Title: p.Title}
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
	c.XTicks = xTicks(n, func(i int) string { return pts[i].Label })
	return c
}

// Series is one line of a line chart.
type Series struct {
	Name   string
	Class  string
	Values []float64
	Titles []string // hover text per point
}

// Lines builds a line chart over labels; format writes axis values.
func Lines(id, title, desc string, labels []string, series []Series, format func(float64) string, legend []LegendItem) Chart {
	c := Chart{ID: id, Title: title, Desc: desc, Legend: legend}
	var top float64
	for _, s := range series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	scale := niceMax(top)
	c.YTicks = yTicks(scale, format)
	n := len(labels)
	if n == 0 {
		return c
	}
	slot := (plotRight - plotLeft) / float64(n)
	for _, s := range series {
		l := Line{Name: s.Name, Class: s.Class}
		var pts []string
		for i, v := range s.Values {
			x := plotLeft + (float64(i)+0.5)*slot
			y := plotBottom - v/scale*(plotBottom-plotTop)
			pts = append(pts, f1(x)+","+f1(y))
			title := ""
			if i < len(s.Titles) {
				title = s.Titles[i]
			}
			l.Dots = append(l.Dots, Dot{X: x, Y: y, Title: title})
		}
		l.Points = strings.Join(pts, " ")
		c.Lines = append(c.Lines, l)
	}
	c.XTicks = xTicks(n, func(i int) string { return labels[i] })
	return c
}

func xTicks(n int, label func(int) string) []Tick {
	slot := (plotRight - plotLeft) / float64(n)
	step := max(1, (n+maxXTicks-1)/maxXTicks)
	var out []Tick
	for i := 0; i < n; i += step {
		out = append(out, Tick{Pos: plotLeft + (float64(i)+0.5)*slot, Label: label(i)})
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

// niceMax rounds v up to 1, 2, 2.5 or 5 times a power of ten (at least 1).
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v && p > 0.001 {
		p /= 10
	}
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
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
