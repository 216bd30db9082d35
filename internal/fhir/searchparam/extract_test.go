package searchparam

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

const patientJSON = `{
  "resourceType": "Patient",
  "id": "pt-1",
  "meta": {
    "versionId": "3",
    "lastUpdated": "2024-05-17T10:30:15.123Z",
    "tag": [{"system": "https://clinikapi.com/tenant", "code": "org-1"}],
    "profile": ["http://example.org/StructureDefinition/clinik-patient"],
    "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
    "source": "https://clinikapi.com/src/abc"
  },
  "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">José</div>"},
  "identifier": [
    {"use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
     "system": "http://hospital.example.org/mrn", "value": "MRN-0001"},
    {"value": "X-1"}
  ],
  "active": true,
  "name": [
    {"use": "official", "family": "Müller-Lüdenscheidt", "given": ["José", "María"], "prefix": ["Dr."]},
    {"use": "nickname", "text": "Pepe", "given": ["José"]}
  ],
  "telecom": [
    {"system": "phone", "value": "+1 555 0100", "use": "mobile"},
    {"system": "email", "value": "Jose@Example.com"}
  ],
  "gender": "male",
  "birthDate": "1980-02-29",
  "deceasedBoolean": false,
  "address": [{"use": "home", "line": ["12 Main St", "Apt 4"], "city": "Springfield", "state": "IL", "postalCode": "62704", "country": "US"}],
  "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}], "text": "Spanish"}}],
  "generalPractitioner": [{"reference": "Practitioner/pr-1"}],
  "managingOrganization": {"reference": "https://fhir.example.org/r4/Organization/org-9/_history/3", "display": "Acme"}
}`

const observationJSON = `{
  "resourceType": "Observation",
  "id": "ob-1",
  "meta": {"lastUpdated": "2024-05-17T10:31:00Z"},
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
  "subject": {"reference": "Patient/pt-1"},
  "encounter": {"reference": "Encounter/en-1"},
  "effectiveDateTime": "2024-05-17T10:30:00+02:00",
  "performer": [{"reference": "Practitioner/pr-1"}, {"reference": "urn:uuid:5f0c3a10-6f1b-4f5e-9a52-0d3a6f0b1c2d"}],
  "valueQuantity": {"value": 120.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
     "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
     "valueQuantity": {"value": 80, "unit": "mmHg"}}
  ]
}`

func decode(t testing.TB, s string) fhir.Resource {
	t.Helper()
	var r fhir.Resource
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func extract(t testing.TB, s string) []fhir.Value {
	t.Helper()
	vals, err := Default().Extract(decode(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Value builders for the expectations.
func vStr(p, exact string) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.String, Text: Normalize(exact), Exact: exact}
}
func vTok(p, system, code string) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.Token, System: system, Code: code}
}
func vRef(p, typ, id, url string) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.Reference, RefType: typ, RefID: id, URL: url}
}
func vDate(p, start, end string) fhir.Value {
	v := fhir.Value{Param: p, Type: fhir.Date, Start: OpenStart, End: OpenEnd}
	if start != "" {
		v.Start = utc(start)
	}
	if end != "" {
		v.End = utc(end)
	}
	return v
}
func vQty(p string, n float64, system, code string) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.Quantity, Number: n, System: system, Code: code}
}
func vNum(p string, n float64) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.Number, Number: n}
}
func vURI(p, u string) fhir.Value {
	return fhir.Value{Param: p, Type: fhir.URI, URL: u}
}

func byParam(vals []fhir.Value) map[string][]fhir.Value {
	out := map[string][]fhir.Value{}
	for _, v := range vals {
		out[v.Param] = append(out[v.Param], v)
	}
	return out
}

func show(vs []fhir.Value) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n\t%s %s text=%q exact=%q sys=%q code=%q ref=%s/%s url=%q [%s, %s) n=%v",
			v.Param, v.Type, v.Text, v.Exact, v.System, v.Code, v.RefType, v.RefID, v.URL,
			v.Start.Format(time.RFC3339Nano), v.End.Format(time.RFC3339Nano), v.Number)
	}
	return b.String()
}

func equalValues(a, b []fhir.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Param != b[i].Param || a[i].Type != b[i].Type || !sameValue(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

// checkParams compares the values of each listed parameter; a nil want
// means the parameter must have no values.
func checkParams(t *testing.T, got []fhir.Value, want map[string][]fhir.Value) {
	t.Helper()
	by := byParam(got)
	for p, w := range want {
		if !equalValues(by[p], w) {
			t.Errorf("%s:\n got %s\nwant %s", p, show(by[p]), show(w))
		}
	}
}

func TestExtractPatient(t *testing.T) {
	got := extract(t, patientJSON)
	names := []fhir.Value{
		vStr("name", "Müller-Lüdenscheidt"), vStr("name", "José"), vStr("name", "María"), vStr("name", "Dr."), vStr("name", "Pepe"),
	}
	phonetic := make([]fhir.Value, len(names))
	for i, v := range names {
		v.Param = "phonetic"
		phonetic[i] = v
	}
	checkParams(t, got, map[string][]fhir.Value{
		"_id":          {vTok("_id", "", "pt-1")},
		"_lastUpdated": {vDate("_lastUpdated", "2024-05-17T10:30:15.123Z", "2024-05-17T10:30:15.124Z")},
		"_tag":         {vTok("_tag", "https://clinikapi.com/tenant", "org-1")},
		"_profile":     {vURI("_profile", "http://example.org/StructureDefinition/clinik-patient")},
		"_security":    {vTok("_security", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")},
		"_source":      {vURI("_source", "https://clinikapi.com/src/abc")},
		"active":       {vTok("active", "", "true")},
		"name":         names,
		"phonetic":     phonetic,
		"family":       {vStr("family", "Müller-Lüdenscheidt")},
		"given":        {vStr("given", "José"), vStr("given", "María")},
		"gender":       {vTok("gender", "", "male")},
		"birthdate":    {vDate("birthdate", "1980-02-29T00:00:00Z", "1980-03-01T00:00:00Z")},
		"deceased":     {vTok("deceased", "", "false")},
		"death-date":   nil,
		"identifier":   {vTok("identifier", "http://hospital.example.org/mrn", "MRN-0001"), vTok("identifier", "", "X-1")},
		"telecom":      {vTok("telecom", "", "+1 555 0100"), vTok("telecom", "", "Jose@Example.com")},
		"phone":        {vTok("phone", "", "+1 555 0100")},
		"email":        {vTok("email", "", "Jose@Example.com")},
		"address": {vStr("address", "12 Main St"), vStr("address", "Apt 4"), vStr("address", "Springfield"),
			vStr("address", "IL"), vStr("address", "62704"), vStr("address", "US")},
		"address-city":         {vStr("address-city", "Springfield")},
		"address-state":        {vStr("address-state", "IL")},
		"address-postalcode":   {vStr("address-postalcode", "62704")},
		"address-country":      {vStr("address-country", "US")},
		"address-use":          {vTok("address-use", "", "home")},
		"language":             {vTok("language", "urn:ietf:bcp:47", "es")},
		"general-practitioner": {vRef("general-practitioner", "Practitioner", "pr-1", "")},
		"organization":         {vRef("organization", "Organization", "org-9", "https://fhir.example.org/r4/Organization/org-9/_history/3")},
		"link":                 nil,
	})
	// Text is normalised, Exact as written.
	if v := byParam(got)["family"][0]; v.Text != "muller ludenscheidt" || v.Exact != "Müller-Lüdenscheidt" {
		t.Errorf("family = %q / %q", v.Text, v.Exact)
	}
	// Grouped by parameter, sorted by code.
	for i := 1; i < len(got); i++ {
		if got[i-1].Param > got[i].Param {
			t.Fatalf("values not sorted by parameter: %s before %s", got[i-1].Param, got[i].Param)
		}
	}
	// Every value carries its parameter's type.
	for _, v := range got {
		sp, ok := Default().Lookup("Patient", v.Param)
		if !ok || sp.Type != v.Type {
			t.Errorf("value %s has type %s, parameter %v", v.Param, v.Type, sp)
		}
	}
}

func TestExtractPatientDeceased(t *testing.T) {
	tests := []struct {
		name      string
		deceased  string
		want      []fhir.Value
		deathDate []fhir.Value
	}{
		{"absent", ``, []fhir.Value{vTok("deceased", "", "false")}, nil},
		{"false", `,"deceasedBoolean": false`, []fhir.Value{vTok("deceased", "", "false")}, nil},
		{"true", `,"deceasedBoolean": true`, []fhir.Value{vTok("deceased", "", "true")}, nil},
		{"dateTime", `,"deceasedDateTime": "2021-06"`, []fhir.Value{vTok("deceased", "", "true")},
			[]fhir.Value{vDate("death-date", "2021-06-01T00:00:00Z", "2021-07-01T00:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extract(t, `{"resourceType":"Patient","id":"p"`+tt.deceased+`}`)
			checkParams(t, got, map[string][]fhir.Value{"deceased": tt.want, "death-date": tt.deathDate})
		})
	}
}

func TestExtractObservation(t *testing.T) {
	got := extract(t, observationJSON)
	loinc := "http://loinc.org"
	ucum := "http://unitsofmeasure.org"
	checkParams(t, got, map[string][]fhir.Value{
		"_id":       {vTok("_id", "", "ob-1")},
		"status":    {vTok("status", "", "final")},
		"category":  {vTok("category", "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")},
		"code":      {vTok("code", loinc, "85354-9")},
		"subject":   {vRef("subject", "Patient", "pt-1", "")},
		"patient":   {vRef("patient", "Patient", "pt-1", "")},
		"encounter": {vRef("encounter", "Encounter", "en-1", "")},
		"performer": {vRef("performer", "Practitioner", "pr-1", ""), vRef("performer", "", "", "urn:uuid:5f0c3a10-6f1b-4f5e-9a52-0d3a6f0b1c2d")},
		// 10:30+02:00 is 08:30Z; a dateTime to the second covers that second.
		"date":           {vDate("date", "2024-05-17T08:30:00Z", "2024-05-17T08:30:01Z")},
		"value-quantity": {vQty("value-quantity", 120.5, ucum, "mm[Hg]")},
		"component-code": {vTok("component-code", loinc, "8480-6"), vTok("component-code", loinc, "8462-4")},
		"component-value-quantity": {vQty("component-value-quantity", 120, ucum, "mm[Hg]"),
			vQty("component-value-quantity", 80, "", "mmHg")},
		"combo-code": {vTok("combo-code", loinc, "85354-9"), vTok("combo-code", loinc, "8480-6"), vTok("combo-code", loinc, "8462-4")},
		"combo-value-quantity": {vQty("combo-value-quantity", 120.5, ucum, "mm[Hg]"),
			vQty("combo-value-quantity", 120, ucum, "mm[Hg]"), vQty("combo-value-quantity", 80, "", "mmHg")},
		"value-concept": nil,
		"value-string":  nil,
		"value-date":    nil,
		"focus":         nil,
	})
}

func TestExtractObservationVariants(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string][]fhir.Value
	}{
		{"effectivePeriod open end",
			`"effectivePeriod": {"start": "2024-01-01T08:00:00Z"}`,
			map[string][]fhir.Value{"date": {vDate("date", "2024-01-01T08:00:00Z", "")}}},
		{"effectivePeriod",
			`"effectivePeriod": {"start": "2024-01-01", "end": "2024-01-03"}`,
			map[string][]fhir.Value{"date": {vDate("date", "2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z")}}},
		{"effectiveInstant",
			`"effectiveInstant": "2024-01-01T08:00:00.5-05:00"`,
			map[string][]fhir.Value{"date": {vDate("date", "2024-01-01T13:00:00.5Z", "2024-01-01T13:00:00.501Z")}}},
		{"effectiveTiming",
			`"effectiveTiming": {"event": ["2024-03-02", "2024-03-01T10:00:00Z"], "repeat": {"boundsPeriod": {"end": "2024-03-05"}}}`,
			map[string][]fhir.Value{"date": {vDate("date", "", "2024-03-06T00:00:00Z")}}},
		{"valueCodeableConcept",
			`"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}, {"code": "neg"}], "text": "Negative"}`,
			map[string][]fhir.Value{
				"value-concept":  {vTok("value-concept", "http://snomed.info/sct", "260385009"), vTok("value-concept", "", "neg")},
				"value-quantity": nil,
				// value-string includes CodeableConcept.text.
				"value-string": {vStr("value-string", "Negative")}}},
		{"valueString",
			`"valueString": "Clear, YELLOW"`,
			map[string][]fhir.Value{"value-string": {vStr("value-string", "Clear, YELLOW")}}},
		{"valueDateTime and valuePeriod",
			`"valueDateTime": "2023"`,
			map[string][]fhir.Value{"value-date": {vDate("value-date", "2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z")}}},
		{"subject Group is not patient",
			`"subject": {"reference": "Group/g1"}`,
			map[string][]fhir.Value{"subject": {vRef("subject", "Group", "g1", "")}, "patient": nil}},
		{"subject absolute URL",
			`"subject": {"reference": "http://other.example/fhir/Patient/p9"}`,
			map[string][]fhir.Value{
				"subject": {vRef("subject", "Patient", "p9", "http://other.example/fhir/Patient/p9")},
				"patient": {vRef("patient", "Patient", "p9", "http://other.example/fhir/Patient/p9")}}},
		{"subject logical identifier",
			`"subject": {"identifier": {"system": "urn:mrn", "value": "7"}, "type": "Patient"}`,
			map[string][]fhir.Value{
				"subject": {{Param: "subject", Type: fhir.Reference, System: "urn:mrn", Code: "7"}},
				"patient": {{Param: "patient", Type: fhir.Reference, System: "urn:mrn", Code: "7"}}}},
		{"valueQuantity without code uses unit",
			`"valueQuantity": {"value": 37.5, "unit": "Cel"}`,
			map[string][]fhir.Value{"value-quantity": {vQty("value-quantity", 37.5, "", "Cel")}}},
		{"valueQuantity without value",
			`"valueQuantity": {"unit": "Cel"}`,
			map[string][]fhir.Value{"value-quantity": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParams(t, extract(t, `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, `+tt.body+`}`), tt.want)
		})
	}
}

func TestExtractEncounter(t *testing.T) {
	got := extract(t, `{
	  "resourceType": "Encounter", "id": "en-1", "status": "in-progress",
	  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
	  "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]}],
	  "subject": {"reference": "Patient/pt-1"},
	  "participant": [
	    {"individual": {"reference": "Practitioner/pr-1"}},
	    {"individual": {"reference": "RelatedPerson/rp-1"}}
	  ],
	  "period": {"start": "2024-05-17T09:00:00Z"},
	  "length": {"value": 30, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"},
	  "location": [{"location": {"reference": "Location/lo-1"}, "period": {"start": "2024-05-17T09:00:00Z", "end": "2024-05-17T09:30:00Z"}}],
	  "serviceProvider": {"reference": "Organization/org-1"}
	}`)
	checkParams(t, got, map[string][]fhir.Value{
		"status":           {vTok("status", "", "in-progress")},
		"class":            {vTok("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB")},
		"type":             {vTok("type", "http://snomed.info/sct", "185349003")},
		"subject":          {vRef("subject", "Patient", "pt-1", "")},
		"patient":          {vRef("patient", "Patient", "pt-1", "")},
		"participant":      {vRef("participant", "Practitioner", "pr-1", ""), vRef("participant", "RelatedPerson", "rp-1", "")},
		"practitioner":     {vRef("practitioner", "Practitioner", "pr-1", "")},
		"date":             {vDate("date", "2024-05-17T09:00:00Z", "")},
		"length":           {vQty("length", 30, "http://unitsofmeasure.org", "min")},
		"location":         {vRef("location", "Location", "lo-1", "")},
		"location-period":  {vDate("location-period", "2024-05-17T09:00:00Z", "2024-05-17T09:30:01Z")},
		"service-provider": {vRef("service-provider", "Organization", "org-1", "")},
	})
}

func TestExtractMedicationRequest(t *testing.T) {
	rxnorm := "http://www.nlm.nih.gov/research/umls/rxnorm"
	tests := []struct {
		name string
		med  string
		want map[string][]fhir.Value
	}{
		{"CodeableConcept", `"medicationCodeableConcept": {"coding": [{"system": "` + rxnorm + `", "code": "197361"}], "text": "Amlodipine 5 MG"}`,
			map[string][]fhir.Value{"code": {vTok("code", rxnorm, "197361")}, "medication": nil}},
		{"Reference", `"medicationReference": {"reference": "Medication/med-1"}`,
			map[string][]fhir.Value{"code": nil, "medication": {vRef("medication", "Medication", "med-1", "")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extract(t, `{"resourceType": "MedicationRequest", "id": "rx-1", "status": "active", "intent": "order",
			  "subject": {"reference": "Patient/pt-1"}, "requester": {"reference": "Practitioner/pr-1"},
			  "authoredOn": "2024-05-17", `+tt.med+`}`)
			want := map[string][]fhir.Value{
				"status":     {vTok("status", "", "active")},
				"intent":     {vTok("intent", "", "order")},
				"subject":    {vRef("subject", "Patient", "pt-1", "")},
				"patient":    {vRef("patient", "Patient", "pt-1", "")},
				"requester":  {vRef("requester", "Practitioner", "pr-1", "")},
				"authoredon": {vDate("authoredon", "2024-05-17T00:00:00Z", "2024-05-18T00:00:00Z")},
			}
			for k, v := range tt.want {
				want[k] = v
			}
			checkParams(t, got, want)
		})
	}
}

func TestExtractAppointment(t *testing.T) {
	got := extract(t, `{
	  "resourceType": "Appointment", "id": "ap-1", "status": "booked",
	  "serviceType": [{"coding": [{"system": "http://example.org/service", "code": "gp"}]}],
	  "start": "2024-06-01T09:00:00Z", "end": "2024-06-01T09:30:00Z",
	  "participant": [
	    {"actor": {"reference": "Patient/pt-1"}, "status": "accepted"},
	    {"actor": {"reference": "Practitioner/pr-1"}, "status": "accepted"},
	    {"actor": {"reference": "Location/lo-1"}, "status": "accepted"},
	    {"actor": {"reference": "Patient/pt-1"}, "status": "accepted"}
	  ]
	}`)
	checkParams(t, got, map[string][]fhir.Value{
		"status":       {vTok("status", "", "booked")},
		"service-type": {vTok("service-type", "http://example.org/service", "gp")},
		"date":         {vDate("date", "2024-06-01T09:00:00Z", "2024-06-01T09:00:01Z")},
		// The repeated Patient/pt-1 is listed once.
		"actor":            {vRef("actor", "Patient", "pt-1", ""), vRef("actor", "Practitioner", "pr-1", ""), vRef("actor", "Location", "lo-1", "")},
		"patient":          {vRef("patient", "Patient", "pt-1", "")},
		"practitioner":     {vRef("practitioner", "Practitioner", "pr-1", "")},
		"location":         {vRef("location", "Location", "lo-1", "")},
		"part-status":      {vTok("part-status", "", "accepted")},
		"appointment-type": nil,
	})
}

func TestExtractCondition(t *testing.T) {
	cs := "http://terminology.hl7.org/CodeSystem/condition-clinical"
	tests := []struct {
		name  string
		onset string
		want  map[string][]fhir.Value
	}{
		{"onsetDateTime", `"onsetDateTime": "2019-07", "abatementString": "In remission"`, map[string][]fhir.Value{
			"onset-date":       {vDate("onset-date", "2019-07-01T00:00:00Z", "2019-08-01T00:00:00Z")},
			"onset-age":        nil,
			"onset-info":       nil,
			"abatement-string": {vStr("abatement-string", "In remission")},
		}},
		{"onsetAge", `"onsetAge": {"value": 52, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}`, map[string][]fhir.Value{
			"onset-date": nil,
			"onset-age":  {vQty("onset-age", 52, "http://unitsofmeasure.org", "a")},
		}},
		{"onsetRange", `"onsetRange": {"low": {"value": 40, "code": "a"}, "high": {"value": 50, "code": "a"}}`, map[string][]fhir.Value{
			"onset-age": {vQty("onset-age", 40, "", "a"), vQty("onset-age", 50, "", "a")},
		}},
		{"onsetPeriod", `"onsetPeriod": {"end": "2019"}`, map[string][]fhir.Value{
			"onset-date": {vDate("onset-date", "", "2020-01-01T00:00:00Z")},
		}},
		{"onsetString", `"onsetString": "childhood"`, map[string][]fhir.Value{
			"onset-date": nil,
			"onset-info": {vStr("onset-info", "childhood")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extract(t, `{"resourceType": "Condition", "id": "c1",
			  "clinicalStatus": {"coding": [{"system": "`+cs+`", "code": "active"}]},
			  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}], "text": "Hypertension"},
			  "subject": {"reference": "Patient/pt-1"}, "recordedDate": "2024-05-17T10:00:00+00:00", `+tt.onset+`}`)
			want := map[string][]fhir.Value{
				"clinical-status": {vTok("clinical-status", cs, "active")},
				"code":            {vTok("code", "http://snomed.info/sct", "38341003")},
				"subject":         {vRef("subject", "Patient", "pt-1", "")},
				"patient":         {vRef("patient", "Patient", "pt-1", "")},
				"recorded-date":   {vDate("recorded-date", "2024-05-17T10:00:00Z", "2024-05-17T10:00:01Z")},
			}
			for k, v := range tt.want {
				want[k] = v
			}
			checkParams(t, got, want)
		})
	}
}

func TestExtractDocumentReference(t *testing.T) {
	got := extract(t, `{
	  "resourceType": "DocumentReference", "id": "doc-1", "status": "current",
	  "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3"},
	  "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
	  "subject": {"reference": "Patient/pt-1"},
	  "date": "2024-05-17T10:30:00Z",
	  "author": [{"reference": "Practitioner/pr-1"}],
	  "description": "Discharge summary",
	  "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/doc-0"}}],
	  "content": [{"attachment": {"contentType": "application/pdf", "url": "https://files.example.org/doc-1.pdf", "language": "en"}, "format": {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "urn:ihe:pcc:xds-ms:2007"}}],
	  "context": {"period": {"start": "2024-05-10", "end": "2024-05-17"}, "encounter": [{"reference": "Encounter/en-1"}]}
	}`)
	checkParams(t, got, map[string][]fhir.Value{
		"status":      {vTok("status", "", "current")},
		"identifier":  {vTok("identifier", "urn:ietf:rfc:3986", "urn:oid:1.2.3")},
		"type":        {vTok("type", "http://loinc.org", "34133-9")},
		"patient":     {vRef("patient", "Patient", "pt-1", "")},
		"date":        {vDate("date", "2024-05-17T10:30:00Z", "2024-05-17T10:30:01Z")},
		"author":      {vRef("author", "Practitioner", "pr-1", "")},
		"description": {vStr("description", "Discharge summary")},
		"relatesto":   {vRef("relatesto", "DocumentReference", "doc-0", "")},
		"relation":    {vTok("relation", "", "replaces")},
		"contenttype": {vTok("contenttype", "", "application/pdf")},
		"location":    {vURI("location", "https://files.example.org/doc-1.pdf")},
		"language":    {vTok("language", "", "en")},
		"format":      {vTok("format", "urn:oid:1.3.6.1.4.1.19376.1.2.3", "urn:ihe:pcc:xds-ms:2007")},
		"period":      {vDate("period", "2024-05-10T00:00:00Z", "2024-05-18T00:00:00Z")},
		"encounter":   {vRef("encounter", "Encounter", "en-1", "")},
	})
}

func TestExtractOthers(t *testing.T) {
	tests := []struct {
		name string
		res  string
		want map[string][]fhir.Value
	}{
		{"Bundle composition: entry[0] only, targets respected",
			`{"resourceType": "Bundle", "type": "document", "timestamp": "2024-05-17T10:00:00Z",
			  "identifier": {"system": "urn:x", "value": "b1"},
			  "entry": [{"resource": {"resourceType": "Composition", "id": "co-1"}}, {"resource": {"resourceType": "MessageHeader", "id": "mh-1"}}]}`,
			map[string][]fhir.Value{
				"composition": {vRef("composition", "Composition", "co-1", "")},
				"message":     nil,
				"type":        {vTok("type", "", "document")},
				"identifier":  {vTok("identifier", "urn:x", "b1")},
				"timestamp":   {vDate("timestamp", "2024-05-17T10:00:00Z", "2024-05-17T10:00:01Z")},
			}},
		{"Practitioner telecom filters and Identifier",
			`{"resourceType": "Practitioner", "name": [{"family": "Smith", "given": ["Ann"]}],
			  "telecom": [{"system": "email", "value": "ann@example.org"}, {"system": "fax", "value": "123"}],
			  "qualification": [{"code": {"coding": [{"system": "urn:q", "code": "MD"}]}}]}`,
			map[string][]fhir.Value{
				"family":  {vStr("family", "Smith")},
				"email":   {vTok("email", "", "ann@example.org")},
				"phone":   nil,
				"telecom": {vTok("telecom", "", "ann@example.org"), vTok("telecom", "", "123")},
			}},
		{"RiskAssessment number: decimal and Range",
			`{"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/p"},
			  "prediction": [{"probabilityDecimal": 0.25}, {"probabilityRange": {"low": {"value": 0.1}, "high": {"value": 0.3}}}]}`,
			map[string][]fhir.Value{
				"probability": {vNum("probability", 0.25), vNum("probability", 0.1), vNum("probability", 0.3)},
			}},
		{"Invoice Money",
			`{"resourceType": "Invoice", "status": "issued", "totalGross": {"value": 99.95, "currency": "EUR"}, "totalNet": {"value": 80}}`,
			map[string][]fhir.Value{
				"totalgross": {vQty("totalgross", 99.95, "urn:iso:std:iso:4217", "EUR")},
				"totalnet":   {vQty("totalnet", 80, "", "")},
			}},
		{"QuestionnaireResponse canonical reference",
			`{"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": "http://example.org/Questionnaire/phq9|1.0",
			  "subject": {"reference": "Patient/p1"}, "authored": "2024-05-17"}`,
			map[string][]fhir.Value{
				"questionnaire": {vRef("questionnaire", "", "", "http://example.org/Questionnaire/phq9|1.0")},
				"patient":       {vRef("patient", "Patient", "p1", "")},
			}},
		{"Consent source Attachment is skipped, Reference kept",
			`{"resourceType": "Consent", "status": "active", "scope": {"text": "x"}, "category": [{"text": "y"}],
			  "sourceAttachment": {"url": "http://x"}}`,
			map[string][]fhir.Value{"source-reference": nil}},
		{"Procedure performed as string, Age: no date",
			`{"resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/p"}, "performedString": "2019"}`,
			map[string][]fhir.Value{"date": nil}},
		{"CarePlan activity Timing",
			`{"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": {"reference": "Patient/p"},
			  "activity": [{"detail": {"status": "scheduled", "scheduledTiming": {"event": ["2024-01-05T10:00:00Z"]}}},
			               {"detail": {"status": "scheduled", "scheduledString": "daily"}}]}`,
			map[string][]fhir.Value{"activity-date": {vDate("activity-date", "2024-01-05T10:00:00Z", "2024-01-05T10:00:01Z")}}},
		{"Extension navigation through choice",
			`{"resourceType": "Group", "type": "person", "actual": true,
			  "characteristic": [{"code": {"text": "c"}, "valueBoolean": true, "exclude": false},
			                     {"code": {"text": "d"}, "valueCodeableConcept": {"coding": [{"system": "s", "code": "v"}]}, "exclude": false}]}`,
			map[string][]fhir.Value{
				"actual": {vTok("actual", "", "true")},
				// In the expression's order: CodeableConcept, then boolean.
				"value":   {vTok("value", "s", "v"), vTok("value", "", "true")},
				"exclude": {vTok("exclude", "", "false")},
			}},
		{"contained reference",
			`{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "#p1"}}`,
			map[string][]fhir.Value{"subject": {vRef("subject", "", "", "#p1")}, "patient": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParams(t, extract(t, tt.res), tt.want)
		})
	}
}

func TestExtractErrors(t *testing.T) {
	r := Default()
	for _, res := range []fhir.Resource{nil, {}, {"resourceType": 7}, {"resourceType": "NoSuchType"}, {"resourceType": "Project"}} {
		if _, err := r.Extract(res); err == nil {
			t.Errorf("Extract(%v): no error", res)
		}
	}
}

// Odd JSON: wrong types, nulls and nested arrays are skipped, never fatal.
func TestExtractOddInput(t *testing.T) {
	got := extract(t, `{
	  "resourceType": "Patient", "id": 12, "meta": "x",
	  "name": [null, "Smith", {"family": 7, "given": [null, 3, "Ann", ["nested"]]}, {"family": null}],
	  "birthDate": "not a date",
	  "gender": {"code": "male"},
	  "telecom": {"system": "email", "value": "a@b.c"},
	  "address": [[{"city": "X"}]],
	  "identifier": [{"system": ["a"], "value": "v"}],
	  "generalPractitioner": [{"reference": 5}, {"reference": ""}, {"reference": "Practitioner/"}, {"reference": "Practitioner/a b"}],
	  "managingOrganization": [{"reference": "Organization/o1"}],
	  "deceasedBoolean": "yes"
	}`)
	checkParams(t, got, map[string][]fhir.Value{
		"_id":        nil,
		"_tag":       nil,
		"family":     nil,
		"given":      {vStr("given", "Ann")},
		"name":       {vStr("name", "Ann")},
		"birthdate":  nil,
		"gender":     nil,
		"email":      {vTok("email", "", "a@b.c")},
		"identifier": {vTok("identifier", "", "v")},
		"address":    nil, // arrays of arrays are skipped
		"general-practitioner": {vRef("general-practitioner", "", "", "Practitioner/"),
			vRef("general-practitioner", "Practitioner", "a b", "")},
		"organization": {vRef("organization", "Organization", "o1", "")},
		// "yes" is not false, so deceased: a string is a value (FHIRPath).
		"deceased": {vTok("deceased", "", "true")},
	})
}

func TestDedupeLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType": "Patient", "identifier": [`)
	for i := 0; i < 5000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"system": "s", "value": "%d"}`, i%100)
	}
	b.WriteString(`]}`)
	ids := byParam(extract(t, b.String()))["identifier"]
	if len(ids) != 100 || ids[0].Code != "0" || ids[99].Code != "99" {
		t.Errorf("got %d identifiers", len(ids))
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in         string
		start, end string // "" = error expected
	}{
		{"2020", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"},
		{"2020-02", "2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z"},
		{"2020-12", "2020-12-01T00:00:00Z", "2021-01-01T00:00:00Z"},
		{"2020-03-04", "2020-03-04T00:00:00Z", "2020-03-05T00:00:00Z"},
		{"2020-02-29", "2020-02-29T00:00:00Z", "2020-03-01T00:00:00Z"},
		{"2020-03-04T10:30Z", "2020-03-04T10:30:00Z", "2020-03-04T10:31:00Z"},
		{"2020-03-04T10:30:15Z", "2020-03-04T10:30:15Z", "2020-03-04T10:30:16Z"},
		{"2020-03-04T10:30:15+02:00", "2020-03-04T08:30:15Z", "2020-03-04T08:30:16Z"},
		{"2020-03-04T23:30:15-05:00", "2020-03-05T04:30:15Z", "2020-03-05T04:30:16Z"},
		{"2020-03-04T10:30:15.123Z", "2020-03-04T10:30:15.123Z", "2020-03-04T10:30:15.124Z"},
		{"2020-03-04T10:30:15.5+00:00", "2020-03-04T10:30:15.5Z", "2020-03-04T10:30:15.501Z"},
		{"2020-03-04T10:30:15.123456789123Z", "2020-03-04T10:30:15.123456789Z", "2020-03-04T10:30:15.124456789Z"},
		{"2020-03-04T10:30:15", "2020-03-04T10:30:15Z", "2020-03-04T10:30:16Z"}, // no zone: UTC
		{"2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z", "2017-01-01T00:00:00Z"},
		{"9999", "9999-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}, // clamped to OpenEnd
		{"0001-01-01", "0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"},
		{"", "", ""},
		{"20", "", ""},
		{"0000", "", ""},
		{"2020-13", "", ""},
		{"2020-00", "", ""},
		{"2021-02-29", "", ""},
		{"2020-04-31", "", ""},
		{"2020-1-01", "", ""},
		{"2020-03-04T", "", ""},
		{"2020-03-04T25:00:00Z", "", ""},
		{"2020-03-04T10:61:00Z", "", ""},
		{"2020-03-04T10:30:15.Z", "", ""},
		{"2020-03-04T10:30:15+15:00", "", ""},
		{"2020-03-04T10:30:15+0200", "", ""},
		{"2020-03-04 10:30:15Z", "", ""},
		{"2020-03-04T10:30:15Zjunk", "", ""},
		{"abcd", "", ""},
		{"１９９９", "", ""},
	}
	for _, tt := range tests {
		s, e, err := ParseDate(tt.in)
		if tt.start == "" {
			if err == nil {
				t.Errorf("ParseDate(%q) = [%v, %v), want an error", tt.in, s, e)
			}
			continue
		}
		if err != nil || !s.Equal(utc(tt.start)) || !e.Equal(utc(tt.end)) || s.Location() != time.UTC || e.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = [%v, %v) %v, want [%s, %s)", tt.in, s, e, err, tt.start, tt.end)
		}
	}
}

func TestPeriod(t *testing.T) {
	tests := []struct {
		name       string
		p          map[string]any
		start, end string
		ok         bool
	}{
		{"both", map[string]any{"start": "2020-01-01", "end": "2020-01-31"}, "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z", true},
		{"open end", map[string]any{"start": "2020-01-01T10:00:00Z"}, "2020-01-01T10:00:00Z", "", true},
		{"open start", map[string]any{"end": "2020"}, "", "2021-01-01T00:00:00Z", true},
		{"end before start", map[string]any{"start": "2020-05-01", "end": "2020-04-01"}, "2020-05-01T00:00:00Z", "2020-05-02T00:00:00Z", true},
		{"empty", map[string]any{}, "", "", false},
		{"bad", map[string]any{"start": 2020, "end": "x"}, "", "", false},
	}
	for _, tt := range tests {
		s, e, ok := period(tt.p)
		ws, we := OpenStart, OpenEnd
		if tt.start != "" {
			ws = utc(tt.start)
		}
		if tt.end != "" {
			we = utc(tt.end)
		}
		if ok != tt.ok || ok && (!s.Equal(ws) || !e.Equal(we)) {
			t.Errorf("%s: period = [%v, %v) %v", tt.name, s, e, ok)
		}
	}
	if !OpenStart.IsZero() || OpenEnd.Format(time.RFC3339) != "9999-12-31T23:59:59Z" {
		t.Errorf("sentinels %v %v", OpenStart, OpenEnd)
	}
}

func TestParseReference(t *testing.T) {
	m := Default().m
	tests := []struct {
		in      string
		typ, id string
		url     string
	}{
		{"Patient/123", "Patient", "123", ""},
		{"Patient/123/_history/4", "Patient", "123", ""},
		{"http://example.org/fhir/Patient/123", "Patient", "123", "http://example.org/fhir/Patient/123"},
		{"https://example.org/fhir/Patient/123/_history/2", "Patient", "123", "https://example.org/fhir/Patient/123/_history/2"},
		{"http://example.org/fhir/NotAType/123", "", "", "http://example.org/fhir/NotAType/123"},
		{"http://example.org/fhir/Patient", "", "", "http://example.org/fhir/Patient"},
		{"urn:uuid:1b2c", "", "", "urn:uuid:1b2c"},
		{"urn:oid:1.2.3", "", "", "urn:oid:1.2.3"},
		{"#contained1", "", "", "#contained1"},
		{"Patient", "", "", "Patient"},
		{"Patient/", "", "", "Patient/"},
		{"Patient/pt_1", "Patient", "pt_1", ""}, // lenient, like the search side
		{"Patient/", "", "", "Patient/"},
		{"patient/1", "", "", "patient/1"},
		{"a/b/c", "", "", "a/b/c"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		got := m.parseReference(tt.in)
		if got.typ != tt.typ || got.id != tt.id || got.url != tt.url {
			t.Errorf("parseReference(%q) = %+v, want %s/%s %q", tt.in, got, tt.typ, tt.id, tt.url)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Smith", "smith"},
		{"  O'Brien-Smith ", "o brien smith"},
		{"Müller", "muller"},
		{"JOSÉ  María", "jose maria"},
		{"Ørsted", "orsted"},
		{"Straße", "strasse"},
		{"Łódź", "lodz"},
		{"Ærø", "aero"},
		{"İstanbul", "istanbul"},
		{"Nguyễn Văn Thành", "nguyen van thanh"},
		{"12 Main St.,\tApt #4", "12 main st apt 4"},
		{"---", ""},
		{"", ""},
		{"李小龍", "李小龍"},
		{"ÅNGSTRÖM", "angstrom"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
