package resource

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// describe renders a field for diffs.
func describe(f Field) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %q %v", f.Name, f.Path, f.Kind)
	if len(f.Targets) > 0 {
		fmt.Fprintf(&b, " targets=%v", f.Targets)
	}
	if f.Loose {
		b.WriteString(" loose")
	}
	if f.System != "" {
		fmt.Fprintf(&b, " system=%s", f.System)
	}
	if f.Codes != nil {
		fmt.Fprintf(&b, " codes=%d", len(f.Codes))
	}
	if f.CodeIf != nil {
		fmt.Fprintf(&b, " codeIf=%s", f.CodeIf)
	}
	if f.Unit != "" {
		fmt.Fprintf(&b, " unit=%s", f.Unit)
	}
	if f.Self {
		b.WriteString(" self")
	}
	if f.Wrap != nil {
		fmt.Fprintf(&b, " wrap=%s", marshal(f.Wrap))
	}
	if f.Value != nil {
		fmt.Fprintf(&b, " value=%s", marshal(f.Value))
	}
	if f.Default != nil {
		fmt.Fprintf(&b, " default=%s", marshal(f.Default))
	}
	if f.WriteOnly {
		b.WriteString(" writeOnly")
	}
	if len(f.Fields) > 0 {
		var sub []string
		for _, sf := range f.Fields {
			sub = append(sub, describe(sf))
		}
		fmt.Fprintf(&b, " {%s}", strings.Join(sub, "; "))
	}
	return b.String()
}

func diffFields(where string, got, want []Field) []string {
	var out []string
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = describe(got[i])
		}
		if i < len(want) {
			w = describe(want[i])
		}
		if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
			out = append(out, fmt.Sprintf("%s field %d:\n    got  %s\n    want %s", where, i, g, w))
		}
	}
	return out
}

// TestGeneratedMatchesGolden: the generated base with the overrides gives
// each of the 14 routed resources the very Def it had when declared by
// hand (golden_test.go), and so the same behaviour.
func TestGeneratedMatchesGolden(t *testing.T) {
	if len(core) != len(goldenAll) {
		t.Fatalf("%d core resources, %d golden ones", len(core), len(goldenAll))
	}
	for i, d := range core {
		w := goldenAll[i]
		if reflect.DeepEqual(d, w) {
			continue
		}
		var diffs []string
		if d.Path != w.Path || d.Type != w.Type || d.Schema != w.Schema {
			diffs = append(diffs, fmt.Sprintf("head: %s %s %s, want %s %s %s", d.Path, d.Type, d.Schema, w.Path, w.Type, w.Schema))
		}
		diffs = append(diffs, diffFields("", d.Fields, w.Fields)...)
		diffs = append(diffs, diffFields("fixed", d.Fixed, w.Fixed)...)
		for _, x := range []struct {
			name      string
			got, want any
		}{{"exclusive", d.Exclusive, w.Exclusive}, {"conflicts", d.Conflicts, w.Conflicts}, {"params", d.Params, w.Params}, {"sorts", d.Sorts, w.Sorts}} {
			if !reflect.DeepEqual(x.got, x.want) {
				diffs = append(diffs, fmt.Sprintf("%s:\n    got  %+v\n    want %+v", x.name, x.got, x.want))
			}
		}
		t.Errorf("%s differs from its hand-written declaration:\n%s", w.Path, strings.Join(diffs, "\n"))
	}
}

// TestGeneratedSameFHIR: byte for byte the same FHIR from the examples,
// and the same simplified read-back.
func TestGeneratedSameFHIR(t *testing.T) {
	for i, d := range core {
		w := goldenAll[i]
		body := example(t, d)
		got, gis := d.ToFHIR(body, testNow)
		want, wis := w.ToFHIR(example(t, w), testNow)
		g, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(g) != string(wb) || fmt.Sprint(gis) != fmt.Sprint(wis) {
			t.Errorf("%s: ToFHIR\n got  %s %v\n want %s %v", d.Path, g, gis, wb, wis)
		}
		if gs, ws := marshal(d.ToSimple(got)), marshal(w.ToSimple(want)); gs != ws {
			t.Errorf("%s: ToSimple\n got  %s\n want %s", d.Path, gs, ws)
		}
	}
}

// TestGeneratedCoversContract: Generated has one Def per create schema of
// the contract; the routed ones map everything; every path the generator
// wrote parses.
func TestGeneratedCoversContract(t *testing.T) {
	c := DefaultContract()
	seen := map[string]bool{}
	for _, d := range Generated {
		if seen[d.Path] {
			t.Errorf("%s: twice in Generated", d.Path)
		}
		seen[d.Path] = true
		if _, ok := c.Schema(d.Schema); !ok {
			t.Errorf("%s: no contract schema %s", d.Path, d.Schema)
		}
		var walk func(fields []Field)
		walk = func(fields []Field) {
			for _, f := range fields {
				if f.Path == "" {
					continue
				}
				if _, err := parsePath(f.Path); err != nil {
					t.Errorf("%s.%s: %v", d.Path, f.Name, err)
				}
				walk(f.Fields)
			}
		}
		walk(d.Fields)
	}
	for p, item := range c.Doc().Paths.Map() {
		seg, ok := strings.CutPrefix(p, "/v1/")
		if !ok || strings.Contains(seg, "/") || item.Post == nil || item.Post.RequestBody == nil {
			continue
		}
		if !seen[seg] {
			t.Errorf("%s: a create schema, but no generated Def", p)
		}
	}
	for _, d := range All {
		if !slices.Contains(Generated, d) {
			t.Errorf("%s: routed, but not in Generated", d.Path)
		}
		if u := d.Unmapped(); len(u) > 0 {
			t.Errorf("%s: routed with unmapped %v", d.Path, u)
		}
	}
}
