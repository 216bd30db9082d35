package searchparam

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

const evalPatient = `{
  "resourceType": "Patient", "id": "p1",
  "extension": [
    {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
    {"url": "http://example.org/ext/score", "valueQuantity": {"value": 3, "unit": "pt"}},
    {"url": "http://example.org/ext/nested", "extension": [{"url": "inner", "valueString": "deep"}]}
  ],
  "name": [{"family": "Doe", "given": ["Jane", "Q"]}, {"family": "Roe"}],
  "telecom": [{"system": "phone", "value": "111"}, {"system": "email", "value": "j@x"}, {"system": "phone", "value": "222"}],
  "multipleBirthInteger": 2,
  "deceasedDateTime": "2020-01-01",
  "generalPractitioner": [{"reference": "Practitioner/1"}, {"reference": "Organization/2"}, {"reference": "urn:uuid:9"}, {"type": "Practitioner", "display": "no ref"}],
  "contact": [{"name": {"family": "Kin"}}]
}`

// render shows nodes as type:json for comparison.
func render(ns []node) []string {
	out := []string{}
	for _, n := range ns {
		var b []byte
		switch v := n.v.(type) {
		case resolvedRef:
			b = []byte(v.id)
		default:
			b, _ = json.Marshal(v)
		}
		out = append(out, n.t+":"+string(b))
	}
	return out
}

func TestEvaluate(t *testing.T) {
	r := Default()
	var res map[string]any
	if err := json.Unmarshal([]byte(evalPatient), &res); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		want []string
	}{
		{"Patient.id", []string{`id:"p1"`}},
		{"Resource.id", []string{`id:"p1"`}},
		{"DomainResource.id", []string{`id:"p1"`}},
		{"Observation.id", []string{}},
		{"Patient.name.family", []string{`string:"Doe"`, `string:"Roe"`}},
		{"Patient.name.given", []string{`string:"Jane"`, `string:"Q"`}},
		{"Patient.name.given.first()", []string{`string:"Jane"`}},
		{"Patient.name.first().given.last()", []string{`string:"Q"`}},
		{"Patient.name[1].family", []string{`string:"Roe"`}},
		{"Patient.name[2].family", []string{}},
		{"Patient.name.family | Patient.contact.name.family", []string{`string:"Doe"`, `string:"Roe"`, `string:"Kin"`}},
		{"(Patient.name.family)", []string{`string:"Doe"`, `string:"Roe"`}},
		{"Patient.telecom.where(system='phone').value", []string{`string:"111"`, `string:"222"`}},
		{"Patient.telecom.where(system!='phone').value", []string{`string:"j@x"`}},
		{"Patient.telecom.where(system='phone' and value='222').value", []string{`string:"222"`}},
		{"Patient.telecom.where(system='fax' or value='111').value", []string{`string:"111"`}},
		{"Patient.telecom.where($this.system ~ 'EMAIL').value", []string{`string:"j@x"`}},
		{"Patient.telecom.where(system in ('fax' | 'email')).value", []string{`string:"j@x"`}},
		{"Patient.telecom.select(value)", []string{`string:"111"`, `string:"j@x"`, `string:"222"`}},
		{"Patient.telecom.count()", []string{`integer:3`}},
		{"Patient.telecom.count() > 2", []string{`boolean:true`}},
		{"Patient.telecom.tail().value", []string{`string:"j@x"`, `string:"222"`}},
		{"Patient.name.exists()", []string{`boolean:true`}},
		{"Patient.photo.exists()", []string{`boolean:false`}},
		{"Patient.photo.empty()", []string{`boolean:true`}},
		{"Patient.name.exists(family='Roe')", []string{`boolean:true`}},
		{"Patient.name.exists(family='Zed').not()", []string{`boolean:true`}},
		// Choice elements: value[x] is spelled valueCode, valueQuantity …
		{"Patient.multipleBirth", []string{`integer:2`}},
		{"Patient.deceased", []string{`dateTime:"2020-01-01"`}},
		{"Patient.deceased.ofType(dateTime)", []string{`dateTime:"2020-01-01"`}},
		{"Patient.deceased.ofType(boolean)", []string{}},
		{"Patient.deceased as dateTime", []string{`dateTime:"2020-01-01"`}},
		{"(Patient.deceased as dateTime)", []string{`dateTime:"2020-01-01"`}},
		{"Patient.deceased.as(dateTime)", []string{`dateTime:"2020-01-01"`}},
		{"Patient.deceased.as(FHIR.dateTime)", []string{`dateTime:"2020-01-01"`}},
		{"Patient.deceased is dateTime", []string{`boolean:true`}},
		{"Patient.deceased.is(boolean)", []string{`boolean:false`}},
		{"Patient.deceased.exists() and Patient.deceased != false", []string{`boolean:true`}},
		{"Patient.multipleBirth.ofType(integer) >= 2", []string{`boolean:true`}},
		// Extensions.
		{"Patient.extension('http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex').value", []string{`code:"F"`}},
		{"Patient.extension.where(url='http://example.org/ext/score').value.ofType(Quantity).value", []string{`decimal:3`}},
		{"Patient.extension('http://example.org/ext/score').value as Quantity", []string{`Quantity:{"unit":"pt","value":3}`}},
		{"Patient.extension('http://example.org/ext/nested').extension('inner').value", []string{`string:"deep"`}},
		{"Patient.extension('http://nothing').value", []string{}},
		// resolve() is X: the type from the reference string or Reference.type.
		{"Patient.generalPractitioner.where(resolve() is Practitioner).reference", []string{`string:"Practitioner/1"`}},
		{"Patient.generalPractitioner.where(resolve() is Organization)", []string{`Reference:{"reference":"Organization/2"}`}},
		{"Patient.generalPractitioner.where(resolve() is Practitioner).display", []string{`string:"no ref"`}},
		{"Patient.generalPractitioner.resolve()", []string{`Practitioner:1`, `Organization:2`, `Practitioner:`}},
		{"Patient.generalPractitioner.where(resolve() is Resource).count()", []string{`integer:3`}},
		// Literals and logic.
		{"true and {}", []string{}},
		{"false and {}", []string{`boolean:false`}},
		{"true or {}", []string{`boolean:true`}},
		{"true xor false", []string{`boolean:true`}},
		{"false implies {}", []string{`boolean:true`}},
		{"{} ~ {}", []string{`boolean:true`}},
		{"-1 < 2", []string{`boolean:true`}},
		{"'a' = 'a'", []string{`boolean:true`}},
		{"'it\\'s'", []string{`string:"it's"`}},
		{"1.5 = 1.50", []string{`boolean:true`}},
		{"%resource.id | $this.id", []string{`id:"p1"`, `id:"p1"`}},
		{"Patient.`name`.family.single()", []string{}},
	}
	for _, tt := range tests {
		e, err := parse(tt.expr)
		if err == nil {
			err = r.m.check(e)
		}
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		ev := evaluator{m: r.m, root: []node{{res, "Patient"}}}
		if got := render(ev.eval(e, ev.root)); !slices.Equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	r := Default()
	for _, src := range []string{
		"", "Patient.", "Patient.name.where(", "Patient.name[0", "(Patient.name", "'open", "Patient.name | ",
		"Patient.name.frobnicate()", "Patient.name.where()", "Patient.name.ofType(NoSuchType)",
		"Patient.name as", "Patient.name + 1", "Patient.extension(url)", "%unknown", "Patient # name",
		"Patient.name.first(1)", "Patient..name", "`unterminated", "Patient.name is 5",
	} {
		e, err := parse(src)
		if err == nil {
			err = r.m.check(e)
		}
		if err == nil {
			t.Errorf("parse(%q): no error", src)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Patient.name.given", "(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))",
		"Patient.deceased.exists() and Patient.deceased != false", "Bundle.entry[0].resource",
		"Patient.telecom.where(system='phone')", "Account.subject.where(resolve() is Patient)",
		"Patient.extension('http://x').value as Quantity", "'a\\'b' ~ `c`", "-1.5 <= %resource.count()",
	} {
		f.Add(s)
	}
	r := Default()
	var res map[string]any
	if err := json.Unmarshal([]byte(evalPatient), &res); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := parse(src)
		if err != nil {
			return
		}
		if err := r.m.check(e); err != nil {
			return
		}
		ev := evaluator{m: r.m, root: []node{{res, "Patient"}}}
		_ = ev.eval(e, ev.root)
		_ = rootName(e)
		_ = fmt.Sprint(len(unionParts(e, nil)))
	})
}
