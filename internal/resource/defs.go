package resource

import "regexp"

// All lists the routed simplified resources, in the contract's order; the
// handlers and routes take them from this list. Routing another of the
// contract's resources (Generated has them all) is writing its override
// until Unmapped is empty, listing it in core (below), clinical
// (defs_clinical.go) or administrative (defs_admin.go), and adding its
// test body (testdata/<path>.json and the web tests).
var All = routed(core, clinical, administrative)

// core are the first resources of the contract: patients, practitioners
// and the records of a visit.
var core = []*Def{
	Patients, Practitioners, PractitionerRoles, Encounters, Observations, Medications, Appointments,
	Prescriptions, Intakes, Consents, Labs, Notes, Assessments, Documents,
}

// routed lists the declarations of sets in the contract's order.
func routed(sets ...[]*Def) []*Def {
	in := map[*Def]bool{}
	for _, set := range sets {
		for _, d := range set {
			if in[d] {
				panic("resource: " + d.Path + " is listed twice")
			}
			in[d] = true
		}
	}
	var out []*Def
	for _, d := range Generated {
		if in[d] {
			out = append(out, d)
			delete(in, d)
		}
	}
	for d := range in {
		panic("resource: " + d.Path + " is not a declaration of Generated")
	}
	return out
}

// Code systems.
const (
	sysV3ActCode      = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	sysV3Participant  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysV3Marital      = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	sysV3Priority     = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
	sysV3Interpret    = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysV2Contact      = "http://terminology.hl7.org/CodeSystem/v2-0131"
	sysV2ApptReason   = "http://terminology.hl7.org/CodeSystem/v2-0276"
	sysV2DiagService  = "http://terminology.hl7.org/CodeSystem/v2-0074"
	sysBCP47          = "urn:ietf:bcp:47"
	sysNPI            = "http://hl7.org/fhir/sid/us-npi"
	sysLOINC          = "http://loinc.org"
	sysRole           = "http://terminology.hl7.org/CodeSystem/practitioner-role"
	sysDiagnosisRole  = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
	sysObsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	sysRxCategory     = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
	sysRxCourse       = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	sysConsentScope   = "http://terminology.hl7.org/CodeSystem/consentscope"
	sysLocalRole      = CodeSystemBase + "practitioner-role"
	sysLocalDocType   = CodeSystemBase + "document-type"
	sysLocalNoteCat   = CodeSystemBase + "note-category"
	sysLocalConsentCa = CodeSystemBase + "consent-category"
)

var (
	// bcp47 matches language tags (en, en-US, zh-Hant); display names such
	// as "Spanish" are kept as text.
	bcp47 = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)
	// loincCode matches LOINC codes (8867-4); other strings are text.
	loincCode = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
)

// Known codes of fields whose contract values are words.
var (
	maritalCodes = map[string]Code{
		"annulled": {sysV3Marital, "A", "Annulled"}, "divorced": {sysV3Marital, "D", "Divorced"},
		"interlocutory": {sysV3Marital, "I", "Interlocutory"}, "separated": {sysV3Marital, "L", "Legally Separated"},
		"married": {sysV3Marital, "M", "Married"}, "polygamous": {sysV3Marital, "P", "Polygamous"},
		"single": {sysV3Marital, "S", "Never Married"}, "never-married": {sysV3Marital, "S", "Never Married"},
		"domestic-partner": {sysV3Marital, "T", "Domestic partner"}, "unmarried": {sysV3Marital, "U", "unmarried"},
		"widowed": {sysV3Marital, "W", "Widowed"},
	}
	contactCodes = map[string]Code{
		"emergency": {sysV2Contact, "C", "Emergency Contact"}, "emergency-contact": {sysV2Contact, "C", "Emergency Contact"},
		"employer": {sysV2Contact, "E", "Employer"}, "next-of-kin": {sysV2Contact, "N", "Next-of-Kin"},
		"C": {sysV2Contact, "C", "Emergency Contact"}, "E": {sysV2Contact, "E", "Employer"}, "N": {sysV2Contact, "N", "Next-of-Kin"},
	}
	roleCodes = map[string]Code{
		"doctor": {sysRole, "doctor", "Doctor"}, "nurse": {sysRole, "nurse", "Nurse"}, "pharmacist": {sysRole, "pharmacist", "Pharmacist"},
		"researcher": {sysRole, "researcher", "Researcher"}, "teacher": {sysRole, "teacher", "Teacher/educator"}, "ict": {sysRole, "ict", "ICT professional"},
	}
	classCodes = map[string]Code{
		"AMB": {sysV3ActCode, "AMB", "ambulatory"}, "EMER": {sysV3ActCode, "EMER", "emergency"}, "FLD": {sysV3ActCode, "FLD", "field"},
		"HH": {sysV3ActCode, "HH", "home health"}, "IMP": {sysV3ActCode, "IMP", "inpatient encounter"}, "ACUTE": {sysV3ActCode, "ACUTE", "inpatient acute"},
		"NONAC": {sysV3ActCode, "NONAC", "inpatient non-acute"}, "OBSENC": {sysV3ActCode, "OBSENC", "observation encounter"},
		"PRENC": {sysV3ActCode, "PRENC", "pre-admission"}, "SS": {sysV3ActCode, "SS", "short stay"}, "VR": {sysV3ActCode, "VR", "virtual"},
	}
	priorityCodes = map[string]Code{
		"routine": {sysV3Priority, "R", "routine"}, "urgent": {sysV3Priority, "UR", "urgent"}, "emergency": {sysV3Priority, "EM", "emergency"},
		"asap": {sysV3Priority, "A", "ASAP"}, "stat": {sysV3Priority, "S", "stat"}, "elective": {sysV3Priority, "EL", "elective"},
		"R": {sysV3Priority, "R", "routine"}, "UR": {sysV3Priority, "UR", "urgent"}, "EM": {sysV3Priority, "EM", "emergency"},
		"A": {sysV3Priority, "A", "ASAP"}, "S": {sysV3Priority, "S", "stat"}, "EL": {sysV3Priority, "EL", "elective"},
	}
	participantCodes = map[string]Code{
		"attender": {sysV3Participant, "ATND", "attender"}, "consultant": {sysV3Participant, "CON", "consultant"},
		"admitter": {sysV3Participant, "ADM", "admitter"}, "discharger": {sysV3Participant, "DIS", "discharger"},
		"escort": {sysV3Participant, "ESC", "escort"}, "referrer": {sysV3Participant, "REF", "referrer"},
		"ATND": {sysV3Participant, "ATND", "attender"}, "CON": {sysV3Participant, "CON", "consultant"},
		"ADM": {sysV3Participant, "ADM", "admitter"}, "DIS": {sysV3Participant, "DIS", "discharger"},
		"ESC": {sysV3Participant, "ESC", "escort"}, "REF": {sysV3Participant, "REF", "referrer"},
	}
	diagnosisUseCodes = map[string]Code{
		"admission": {sysDiagnosisRole, "AD", "Admission diagnosis"}, "AD": {sysDiagnosisRole, "AD", "Admission diagnosis"},
		"discharge": {sysDiagnosisRole, "DD", "Discharge diagnosis"}, "DD": {sysDiagnosisRole, "DD", "Discharge diagnosis"},
		"chief-complaint": {sysDiagnosisRole, "CC", "Chief complaint"}, "CC": {sysDiagnosisRole, "CC", "Chief complaint"},
		"comorbidity": {sysDiagnosisRole, "CM", "Comorbidity diagnosis"}, "CM": {sysDiagnosisRole, "CM", "Comorbidity diagnosis"},
		"pre-op": {sysDiagnosisRole, "pre-op", "pre-op diagnosis"}, "post-op": {sysDiagnosisRole, "post-op", "post-op diagnosis"},
		"billing": {sysDiagnosisRole, "billing", "Billing"},
	}
	obsCategoryCodes = map[string]Code{
		"social-history": {sysObsCategory, "social-history", "Social History"}, "vital-signs": {sysObsCategory, "vital-signs", "Vital Signs"},
		"imaging": {sysObsCategory, "imaging", "Imaging"}, "laboratory": {sysObsCategory, "laboratory", "Laboratory"},
		"procedure": {sysObsCategory, "procedure", "Procedure"}, "survey": {sysObsCategory, "survey", "Survey"},
		"exam": {sysObsCategory, "exam", "Exam"}, "therapy": {sysObsCategory, "therapy", "Therapy"}, "activity": {sysObsCategory, "activity", "Activity"},
	}
	interpretationCodes = map[string]Code{
		"H": {sysV3Interpret, "H", "High"}, "L": {sysV3Interpret, "L", "Low"}, "N": {sysV3Interpret, "N", "Normal"},
		"A": {sysV3Interpret, "A", "Abnormal"}, "HH": {sysV3Interpret, "HH", "Critical high"}, "LL": {sysV3Interpret, "LL", "Critical low"},
		"AA": {sysV3Interpret, "AA", "Critical abnormal"}, "POS": {sysV3Interpret, "POS", "Positive"}, "NEG": {sysV3Interpret, "NEG", "Negative"},
	}
	apptTypeCodes = map[string]Code{
		"checkup":   {sysV2ApptReason, "CHECKUP", "A routine check-up, such as an annual physical"},
		"emergency": {sysV2ApptReason, "EMERGENCY", "Emergency appointment"},
		"followup":  {sysV2ApptReason, "FOLLOWUP", "A follow up visit from a previous appointment"},
		"routine":   {sysV2ApptReason, "ROUTINE", "Routine appointment - default if not valued"},
		"walkin":    {sysV2ApptReason, "WALKIN", "A previously unscheduled walk-in visit"},
	}
	rxCategoryCodes = map[string]Code{
		"inpatient": {sysRxCategory, "inpatient", "Inpatient"}, "outpatient": {sysRxCategory, "outpatient", "Outpatient"},
		"community": {sysRxCategory, "community", "Community"}, "discharge": {sysRxCategory, "discharge", "Discharge"},
	}
	rxCourseCodes = map[string]Code{
		"continuous": {sysRxCourse, "continuous", "Continuous long term therapy"},
		"acute":      {sysRxCourse, "acute", "Short course (acute) therapy"},
		"seasonal":   {sysRxCourse, "seasonal", "Seasonal"},
	}
	consentScopeCodes = map[string]Code{
		"adr": {sysConsentScope, "adr", "Advanced Care Directive"}, "research": {sysConsentScope, "research", "Research"},
		"patient-privacy": {sysConsentScope, "patient-privacy", "Privacy Consent"}, "treatment": {sysConsentScope, "treatment", "Treatment"},
	}
	labCategoryCodes = map[string]Code{
		"LAB": {sysV2DiagService, "LAB", "Laboratory"}, "RAD": {sysV2DiagService, "RAD", "Radiology"}, "PAT": {sysV2DiagService, "PAT", "Pathology (gross & histopath, not surgical)"},
	}
	// noteTypes are the contract's note types as LOINC document codes.
	noteTypes = map[string]Code{
		"progress-note": {sysLOINC, "11506-3", "Progress note"}, "discharge-summary": {sysLOINC, "18842-5", "Discharge summary"},
		"consultation-note": {sysLOINC, "11488-4", "Consult note"}, "history-and-physical": {sysLOINC, "34117-2", "History and physical note"},
		"operative-note": {sysLOINC, "11504-8", "Surgical operation note"}, "procedure-note": {sysLOINC, "28570-0", "Procedure note"},
		"referral-note": {sysLOINC, "57133-1", "Referral note"}, "transfer-summary": {sysLOINC, "18761-7", "Transfer summary note"},
		"other": {sysLOINC, "34109-9", "Note"},
	}
	// documentTypes are common document types as LOINC codes; others are
	// codes of ClinikAPI's document-type system.
	documentTypes = map[string]Code{
		"discharge-summary": {sysLOINC, "18842-5", "Discharge summary"}, "referral-letter": {sysLOINC, "57133-1", "Referral note"},
		"care-plan": {sysLOINC, "18776-5", "Plan of care note"}, "progress-note": {sysLOINC, "11506-3", "Progress note"},
		"consultation-note": {sysLOINC, "11488-4", "Consult note"}, "history-and-physical": {sysLOINC, "34117-2", "History and physical note"},
		"transfer-summary": {sysLOINC, "18761-7", "Transfer summary note"}, "operative-note": {sysLOINC, "11504-8", "Surgical operation note"},
		"procedure-note": {sysLOINC, "28570-0", "Procedure note"}, "summary": {sysLOINC, "60591-5", "Patient summary Document"},
	}
)

// Declaration helpers.

func val(name, path string) Field { return Field{Name: name, Path: path, Kind: Value} }

func ref(name, path string, targets ...string) Field {
	return Field{Name: name, Path: path, Kind: Ref, Targets: targets}
}

func refs(name, path string, targets ...string) Field {
	return Field{Name: name, Path: path, Kind: Refs, Targets: targets}
}

// text is a CodeableConcept holding free text (codes with Codes).
func text(name, path string) Field { return Field{Name: name, Path: path, Kind: Concept} }

func coded(name, path string, codes map[string]Code) Field {
	return Field{Name: name, Path: path, Kind: Concept, Codes: codes}
}

// extension stores a field that has no place in R4 in a ClinikAPI
// extension, its value under valueKey (valueString, valueCodeableConcept…).
func extension(name string, kind Kind, valueKey string) Field {
	url := ExtensionBase + name
	return Field{Name: name, Kind: kind, Path: "extension[url=" + url + "]", Wrap: map[string]any{"url": url, valueKey: "$"}}
}

// telecom is a phone number or e-mail address in telecom.
func telecom(name, system string) Field {
	return val(name, "telecom[system="+system+"].value")
}

func languageConcept(name, path string, kind Kind) Field {
	return Field{Name: name, Path: path, Kind: kind, System: sysBCP47, CodeIf: bcp47}
}

func participantType(code, display string) map[string]any {
	return map[string]any{"type": []any{map[string]any{"coding": []any{map[string]any{"system": sysV3Participant, "code": code, "display": display}}}}}
}

func withActor(tmpl map[string]any, key string) map[string]any {
	out := deepCopy(tmpl).(map[string]any)
	out[key] = "$"
	return out
}

var practitioners = []string{"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "CareTeam", "Device"}

func params(ps ...any) []Param {
	var out []Param
	for _, p := range ps {
		switch x := p.(type) {
		case Param:
			out = append(out, x)
		case []Param:
			out = append(out, x...)
		}
	}
	return out
}

// The overrides: what the generated base (base_gen.go) cannot know, per
// resource. Fields the generator mapped and that need nothing more are not
// named here; see base_gen.go for the whole declaration.

// Patients: Patient.
var Patients = override("patients", func(d *Def) {
	d.set(
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		telecom("email", "email"),
		telecom("phone", "phone"),
		coded("maritalStatus", "maritalStatus", maritalCodes),
		Field{Name: "languages", Path: "communication", Kind: List, Fields: []Field{
			languageConcept("language", "language", Concept),
			val("preferred", "preferred"),
		}},
	)
	d.edit("contact").set(
		coded("relationship", "relationship[0]", contactCodes),
		val("firstName", "name.given[0]"),
		val("lastName", "name.family"),
		telecom("phone", "phone"),
		telecom("email", "email"),
	)
	d.edit("generalPractitionerId").Targets = []string{"Practitioner", "PractitionerRole", "Organization"}
	// Not in PatientCreate; the official SDK's update sends it.
	d.add(Field{Name: "active", Path: "active", Kind: Value, Default: true})
	d.setParam(Param{Name: "name", Code: "name:contains"})
})

// Practitioners: Practitioner.
var Practitioners = override("practitioners", func(d *Def) {
	d.set(
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		val("prefix", "name[0].prefix"),
		val("suffix", "name[0].suffix"),
		telecom("email", "email"),
		telecom("phone", "phone"),
		val("npi", "identifier[system="+sysNPI+"].value"),
		// R4 Practitioner has no specialty (PractitionerRole has); the
		// practitioner's own primary specialty is kept in an extension.
		extension("specialty", Concept, "valueCodeableConcept"),
		Field{Name: "qualifications", Path: "qualification", Kind: List, Fields: []Field{
			val("name", "code.text"),
			val("issuer", "issuer.display"),
			val("period", "period"),
			val("identifier", "identifier[0].value"),
		}},
		languageConcept("languages", "communication", Concepts),
	)
	d.add(Field{Name: "active", Path: "active", Kind: Value, Default: true})
	d.setParam(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "specialty", Code: "specialty:contains"},
		Param{Name: "npi", Code: "identifier", Kind: Token, System: sysNPI},
	)
})

// PractitionerRoles: PractitionerRole.
var PractitionerRoles = override("practitioner-roles", func(d *Def) {
	d.set(
		Field{Name: "role", Path: "code[0]", Kind: Concept, Codes: roleCodes, System: sysLocalRole},
		val("organizationName", "organization.display"),
		val("locationName", "location[0].display"),
		telecom("phone", "phone"),
		telecom("email", "email"),
		// FHIR's own shapes: copied as they are.
		val("availableTime", "availableTime"),
		val("notAvailable", "notAvailable"),
		// Legacy single schedule: the first availableTime.
		Field{Name: "availableDays", Path: "availableTime[0].daysOfWeek", Kind: Value, WriteOnly: true},
		Field{Name: "availableStartTime", Path: "availableTime[0].availableStartTime", Kind: Value, WriteOnly: true},
		Field{Name: "availableEndTime", Path: "availableTime[0].availableEndTime", Kind: Value, WriteOnly: true},
	)
	d.add(Field{Name: "active", Path: "active", Kind: Value, Default: true})
	d.Conflicts = [][]string{{"availableTime", "availableDays"}, {"availableTime", "availableStartTime"}, {"availableTime", "availableEndTime"}}
	d.setParam(Param{Name: "status", Code: "active", Values: map[string]string{"active": "true", "inactive": "false"}})
})

// Encounters: Encounter.
var Encounters = override("encounters", func(d *Def) {
	d.set(
		Field{Name: "class", Path: "class", Kind: Coding, System: sysV3ActCode, Codes: classCodes},
		Field{Name: "practitionerId", Path: "participant[type.coding.code=PPRF]", Kind: Ref, Targets: []string{"Practitioner", "PractitionerRole"},
			Wrap: withActor(participantType("PPRF", "primary performer"), "individual")},
		Field{Name: "participants", Path: "participant[type.coding.code=PART]", Kind: List, Wrap: participantType("PART", "Participation"), Fields: []Field{
			ref("practitionerId", "individual", "Practitioner", "PractitionerRole", "RelatedPerson"),
			coded("role", "type[1]", participantCodes),
		}},
		coded("priority", "priority", priorityCodes),
		Field{Name: "lengthMinutes", Path: "length", Kind: Quantity, Unit: "min"},
		val("location", "location[0].location.display"),
		val("serviceProvider", "serviceProvider.display"),
	)
	d.edit("diagnosis.condition").Loose = true
	d.edit("diagnosis.use").Codes = diagnosisUseCodes
	d.edit("hospitalization").set(
		val("destination", "destination.display"),
		val("origin", "origin.display"),
	)
	d.Sorts["period"] = "date"
})

// Observations: Observation.
var Observations = override("observations", func(d *Def) {
	d.set(
		Field{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
		coded("category", "category[0]", obsCategoryCodes),
		Field{Name: "interpretation", Path: "interpretation[0]", Kind: Concept, System: sysV3Interpret, Codes: interpretationCodes},
	)
	d.edit("performerId").Targets = practitioners
	d.edit("component").set(Field{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode})
	d.Sorts["effectiveDateTime"] = "date"
})

// Medications: Medication.
var Medications = override("medications", func(d *Def) {
	d.set(
		val("manufacturer", "manufacturer.display"),
		val("batch", "batch"),
	)
})

// Appointments: Appointment.
var Appointments = override("appointments", func(d *Def) {
	d.set(
		Field{Name: "patientId", Path: "participant[actor.reference^=Patient/]", Kind: Ref, Targets: []string{"Patient"},
			Wrap: map[string]any{"actor": "$", "status": "accepted"}},
		Field{Name: "practitionerId", Path: "participant[actor.reference^=Practitioner/]", Kind: Ref, Targets: []string{"Practitioner"},
			Wrap: map[string]any{"actor": "$", "status": "accepted"}},
		coded("appointmentType", "appointmentType", apptTypeCodes),
	)
	d.edit("created").Default = Now
	d.Sorts["start"] = "date"
})

// Prescriptions: MedicationRequest.
var Prescriptions = override("prescriptions", func(d *Def) {
	d.set(
		ref("prescriberId", "requester", "Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"),
		coded("category", "category[0]", rxCategoryCodes),
		val("dosageText", "dosageInstruction[0].text"),
		Field{Name: "dosage", Path: "dosageInstruction[0]", Kind: Object, Fields: []Field{
			val("dose", "doseAndRate[0].doseQuantity"),
			val("frequency", "timing.repeat.frequency"),
			val("period", "timing.repeat.period"),
			val("periodUnit", "timing.repeat.periodUnit"),
			text("route", "route"),
		}},
		val("refills", "dispenseRequest.numberOfRepeatsAllowed"),
		val("quantity", "dispenseRequest.quantity"),
		Field{Name: "supplyDays", Path: "dispenseRequest.expectedSupplyDuration", Kind: Quantity, Unit: "d"},
		val("substitutionAllowed", "substitution.allowedBoolean"),
		text("reason", "reasonCode[0]"),
		coded("courseOfTherapy", "courseOfTherapyType", rxCourseCodes),
	)
	d.edit("intent").Default = "order"
	d.edit("status").Default = "active"
	d.edit("authoredOn").Default = Now
	d.edit("performerId").Targets = practitioners
	d.setParam(
		Param{Name: "prescriberId", Code: "requester", Kind: RefParam, Target: "Practitioner"},
		Param{Name: "medication", Code: "code"},
	)
})

// intakeItemFields are a QuestionnaireResponse item's; items nest.
var intakeItemFields = []Field{
	val("linkId", "linkId"),
	val("definition", "definition"),
	val("text", "text"),
	val("answer", "answer"),
	{Name: "items", Path: "item", Kind: List, Self: true},
}

// Intakes: QuestionnaireResponse.
var Intakes = override("intakes", func(d *Def) {
	d.set(Field{Name: "items", Path: "item", Kind: List, Fields: intakeItemFields})
	d.edit("patientId").Targets = []string{"Patient", "Group"}
	d.edit("authorId").Targets = []string{"Practitioner", "Device", "PractitionerRole", "Patient", "RelatedPerson", "Organization"}
	d.edit("status").Default = "completed"
	d.edit("authored").Default = Now
})

// Consents: Consent.
var Consents = override("consents", func(d *Def) {
	d.set(
		coded("scope", "scope", consentScopeCodes),
		// A shorthand for policies: [{uri}] (exclusive with it).
		Field{Name: "policyUri", Path: "policy[0].uri", Kind: Value, WriteOnly: true},
		val("policies", "policy"),
	)
	d.edit("status").Default = "active"
	d.edit("category").System = sysLocalConsentCa
	d.edit("performerId").Targets = []string{"Practitioner", "Organization", "Patient", "RelatedPerson", "PractitionerRole"}
	d.edit("sourceReferenceId").Targets = []string{"DocumentReference", "Consent", "Contract", "QuestionnaireResponse"}
	d.edit("verification.verifiedWith").Loose = true
	p := d.edit("provision")
	p.edit("actor").set(
		Field{Name: "role", Path: "role", Kind: Concept, Codes: participantCodes},
		ref("reference", "reference", "Practitioner", "Patient", "Organization", "PractitionerRole", "RelatedPerson", "CareTeam", "Device", "Group"),
	)
	p.edit("data").set(
		ref("reference", "reference", "DocumentReference", "Observation", "DiagnosticReport", "Encounter", "Patient", "QuestionnaireResponse",
			"MedicationRequest", "Condition", "Procedure", "ClinicalImpression", "Composition", "Consent"),
	)
	// Not in the contract; the official SDK sends nested provisions and codes.
	p.insert("dataPeriod", Field{Name: "code", Path: "code", Kind: Concepts})
	p.insert("", Field{Name: "provision", Path: "provision", Kind: List, Self: true})
	d.Conflicts = [][]string{{"policies", "policyUri"}}
})

// Labs: DiagnosticReport.
var Labs = override("labs", func(d *Def) {
	d.set(
		Field{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
		Field{Name: "category", Path: "category[0]", Kind: Concept, System: sysV2DiagService, Codes: labCategoryCodes},
		Field{Name: "conclusionCodes", Path: "conclusionCode", Kind: Concepts},
	)
	d.edit("basedOn").Targets = []string{"ServiceRequest", "CarePlan", "ImmunizationRecommendation", "MedicationRequest", "NutritionOrder"}
	d.Sorts["effectiveDateTime"] = "date"
})

// Notes: DocumentReference.
var Notes = override("notes", func(d *Def) {
	d.Fixed = []Field{{Path: "status", Kind: Const, Value: "current"}}
	d.set(
		ref("encounterId", "context.encounter[0]", "Encounter", "EpisodeOfCare"),
		coded("type", "type", noteTypes),
		val("title", "description"),
		Field{Name: "content", Path: "content[0].attachment.data", Kind: Base64},
		Field{Name: "contentType", Path: "content[0].attachment.contentType", Kind: Value, Default: "text/plain"},
		val("servicePeriod", "context.period"),
		text("facilityType", "context.facilityType"),
		text("practiceSetting", "context.practiceSetting"),
	)
	d.edit("patientId").Targets = []string{"Patient", "Group", "Device", "Practitioner"}
	d.edit("category").System = sysLocalNoteCat
	d.edit("date").Default = Now
	d.edit("authenticatorId").Targets = []string{"Practitioner", "Organization", "PractitionerRole"}
	d.setParam(Param{Name: "type", Code: "type", Kind: Token, Codes: noteTypes})
	// Not in the contract; the official SDK's note search sends them.
	d.addParam(
		Param{Name: "category", Code: "category", Kind: Token, System: sysLocalNoteCat},
		Param{Name: "date", Code: "date"},
	)
})

// Assessments: ClinicalImpression.
var Assessments = override("assessments", func(d *Def) {
	d.set(
		ref("practitionerId", "assessor", "Practitioner", "PractitionerRole"),
		Field{Name: "findings", Path: "finding", Kind: List, Fields: []Field{
			val("code", "itemCodeableConcept.coding[0].code"),
			val("text", "itemCodeableConcept.text"),
			val("basis", "basis"),
		}},
		ref("previousAssessmentId", "previous", "ClinicalImpression"),
		Field{Name: "investigations", Path: "investigation", Kind: List, Fields: []Field{
			val("name", "code.text"),
			refs("itemIds", "item", "Observation", "QuestionnaireResponse", "FamilyMemberHistory", "DiagnosticReport", "RiskAssessment", "ImagingStudy", "Media"),
		}},
		Field{Name: "prognosis", Path: "prognosisCodeableConcept", Kind: List, Fields: []Field{
			val("code", "coding[0].code"),
			val("text", "text"),
		}},
		refs("supportingInfoIds", "supportingInfo", "Observation", "DiagnosticReport", "QuestionnaireResponse", "Condition", "Procedure",
			"MedicationRequest", "AllergyIntolerance", "DocumentReference", "Encounter", "ImagingStudy", "Media", "RiskAssessment"),
	)
	d.edit("date").Default = Now
	d.setParam(Param{Name: "practitionerId", Code: "assessor", Kind: RefParam, Target: "Practitioner"})
})

// documentSection are a Composition section's fields; sections nest.
var documentSection = []Field{
	val("title", "title"),
	{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
	{Name: "text", Path: "text", Kind: Narrative},
	refs("resourceIds", "entry", "Observation", "Condition", "MedicationRequest", "Procedure", "AllergyIntolerance", "DiagnosticReport",
		"Encounter", "Immunization", "DocumentReference", "ClinicalImpression", "CarePlan", "Patient", "QuestionnaireResponse"),
	ref("authorId", "author[0]", "Practitioner", "PractitionerRole", "Device", "Patient", "RelatedPerson", "Organization"),
	val("mode", "mode"),
	{Name: "sections", Path: "section", Kind: List, Self: true},
}

// Documents: Composition.
var Documents = override("documents", func(d *Def) {
	d.set(
		Field{Name: "type", Path: "type", Kind: Concept, System: sysLocalDocType, Codes: documentTypes},
		ref("practitionerId", "author[0]", "Practitioner", "PractitionerRole", "Device", "Patient", "RelatedPerson", "Organization"),
		Field{Name: "sections", Path: "section", Kind: List, Fields: documentSection},
	)
	d.edit("patientId").Targets = []string{"Patient", "Group"}
	d.edit("date").Default = Now
	d.edit("attester.partyId").Targets = []string{"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Organization"}
	d.edit("event").set(refs("detailIds", "detail", "Observation", "Procedure", "Encounter", "Condition", "DiagnosticReport", "MedicationRequest", "ServiceRequest"))
	d.setParam(
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalDocType, Codes: documentTypes},
		Param{Name: "practitionerId", Code: "author", Kind: RefParam, Target: "Practitioner"},
	)
	// Not in the contract; the official SDK's document search sends it.
	d.addParam(Param{Name: "date", Code: "date"})
})
