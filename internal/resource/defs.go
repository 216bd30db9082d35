package resource

import "regexp"

// All lists the simplified resources, in the contract's order. Adding one
// of the contract's other resources is adding a Def here (and its test
// body in the web tests); the handlers and routes take it from this list.
var All = []*Def{
	Patients, Practitioners, PractitionerRoles, Encounters, Observations, Medications, Appointments,
	Prescriptions, Intakes, Consents, Labs, Notes, Assessments, Documents,
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

var (
	patientID     = Param{Name: "patientId", Code: "subject", Kind: RefParam, Target: "Patient"}
	statusParam   = Param{Name: "status", Code: "status"}
	practitioners = []string{"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "CareTeam", "Device"}
)

func dates(code string) []Param {
	return []Param{{Name: "dateFrom", Code: code, Kind: From}, {Name: "dateTo", Code: code, Kind: To}}
}

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

var address = val("address", "address[0]")

// Patients: Patient.
var Patients = &Def{
	Path: "patients", Type: "Patient", Schema: "PatientCreate",
	Fields: []Field{
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		telecom("email", "email"),
		telecom("phone", "phone"),
		val("gender", "gender"),
		val("birthDate", "birthDate"),
		address,
		coded("maritalStatus", "maritalStatus", maritalCodes),
		val("photo", "photo[0]"),
		{Name: "contact", Path: "contact", Kind: List, Fields: []Field{
			coded("relationship", "relationship[0]", contactCodes),
			val("firstName", "name.given[0]"),
			val("lastName", "name.family"),
			telecom("phone", "phone"),
			telecom("email", "email"),
			val("address", "address"),
		}},
		{Name: "languages", Path: "communication", Kind: List, Fields: []Field{
			languageConcept("language", "language", Concept),
			val("preferred", "preferred"),
		}},
		ref("generalPractitionerId", "generalPractitioner[0]", "Practitioner", "PractitionerRole", "Organization"),
		// Not in PatientCreate; the official SDK's update sends it.
		{Name: "active", Path: "active", Kind: Value, Default: true},
	},
	Params: params(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "email", Code: "email"},
		Param{Name: "phone", Code: "phone"},
		Param{Name: "gender", Code: "gender"},
		Param{Name: "birthDate", Code: "birthdate"},
		Param{Name: "active", Code: "active"},
	),
}

// Practitioners: Practitioner.
var Practitioners = &Def{
	Path: "practitioners", Type: "Practitioner", Schema: "PractitionerCreate",
	Fields: []Field{
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		val("prefix", "name[0].prefix"),
		val("suffix", "name[0].suffix"),
		telecom("email", "email"),
		telecom("phone", "phone"),
		val("gender", "gender"),
		val("birthDate", "birthDate"),
		val("npi", "identifier[system="+sysNPI+"].value"),
		// R4 Practitioner has no specialty (PractitionerRole has); the
		// practitioner's own primary specialty is kept in an extension.
		extension("specialty", Concept, "valueCodeableConcept"),
		{Name: "qualifications", Path: "qualification", Kind: List, Fields: []Field{
			val("name", "code.text"),
			val("issuer", "issuer.display"),
			val("period", "period"),
			val("identifier", "identifier[0].value"),
		}},
		languageConcept("languages", "communication", Concepts),
		address,
		val("photo", "photo[0]"),
		{Name: "active", Path: "active", Kind: Value, Default: true},
	},
	Params: params(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "specialty", Code: "specialty:contains"},
		Param{Name: "npi", Code: "identifier", Kind: Token, System: sysNPI},
		Param{Name: "active", Code: "active"},
	),
}

// PractitionerRoles: PractitionerRole.
var PractitionerRoles = &Def{
	Path: "practitioner-roles", Type: "PractitionerRole", Schema: "PractitionerRoleCreate",
	Fields: []Field{
		ref("practitionerId", "practitioner", "Practitioner"),
		{Name: "role", Path: "code[0]", Kind: Concept, Codes: roleCodes, System: sysLocalRole},
		val("organizationName", "organization.display"),
		{Name: "specialty", Path: "specialty", Kind: Concepts},
		val("locationName", "location[0].display"),
		telecom("phone", "phone"),
		telecom("email", "email"),
		val("period", "period"),
		val("availableTime", "availableTime"),
		val("notAvailable", "notAvailable"),
		val("availabilityExceptions", "availabilityExceptions"),
		// Legacy single schedule: the first availableTime.
		{Name: "availableDays", Path: "availableTime[0].daysOfWeek", Kind: Value, WriteOnly: true},
		{Name: "availableStartTime", Path: "availableTime[0].availableStartTime", Kind: Value, WriteOnly: true},
		{Name: "availableEndTime", Path: "availableTime[0].availableEndTime", Kind: Value, WriteOnly: true},
		{Name: "active", Path: "active", Kind: Value, Default: true},
	},
	Conflicts: [][]string{{"availableTime", "availableDays"}, {"availableTime", "availableStartTime"}, {"availableTime", "availableEndTime"}},
	Params: params(
		Param{Name: "status", Code: "active", Values: map[string]string{"active": "true", "inactive": "false"}},
	),
}

// Encounters: Encounter.
var Encounters = &Def{
	Path: "encounters", Type: "Encounter", Schema: "EncounterCreate",
	Fields: []Field{
		val("status", "status"),
		{Name: "class", Path: "class", Kind: Coding, System: sysV3ActCode, Codes: classCodes},
		ref("patientId", "subject", "Patient", "Group"),
		{Name: "practitionerId", Path: "participant[type.coding.code=PPRF]", Kind: Ref, Targets: []string{"Practitioner", "PractitionerRole"},
			Wrap: withActor(participantType("PPRF", "primary performer"), "individual")},
		{Name: "participants", Path: "participant[type.coding.code=PART]", Kind: List, Wrap: participantType("PART", "Participation"), Fields: []Field{
			ref("practitionerId", "individual", "Practitioner", "PractitionerRole", "RelatedPerson"),
			coded("role", "type[1]", participantCodes),
		}},
		text("type", "type[0]"),
		text("serviceType", "serviceType"),
		coded("priority", "priority", priorityCodes),
		text("reasonCode", "reasonCode[0]"),
		val("period", "period"),
		{Name: "lengthMinutes", Path: "length", Kind: Quantity, Unit: "min"},
		val("location", "location[0].location.display"),
		val("serviceProvider", "serviceProvider.display"),
		{Name: "diagnosis", Path: "diagnosis", Kind: List, Fields: []Field{
			{Name: "condition", Path: "condition", Kind: Ref, Targets: []string{"Condition", "Procedure"}, Loose: true},
			coded("use", "use", diagnosisUseCodes),
			val("rank", "rank"),
		}},
		ref("appointmentId", "appointment[0]", "Appointment"),
		ref("basedOnId", "basedOn[0]", "ServiceRequest"),
		ref("partOfId", "partOf", "Encounter"),
		{Name: "hospitalization", Path: "hospitalization", Kind: Object, Fields: []Field{
			text("admitSource", "admitSource"),
			text("dischargeDisposition", "dischargeDisposition"),
			text("reAdmission", "reAdmission"),
			{Name: "dietPreference", Path: "dietPreference", Kind: Concepts},
			{Name: "specialArrangement", Path: "specialArrangement", Kind: Concepts},
			val("destination", "destination.display"),
			val("origin", "origin.display"),
		}},
	},
	Params: params(patientID, statusParam, dates("date")),
	Sorts:  map[string]string{"date": "date", "period": "date", "status": "status", "lastUpdated": "_lastUpdated"},
}

// Observations: Observation.
var Observations = &Def{
	Path: "observations", Type: "Observation", Schema: "ObservationCreate",
	Fields: []Field{
		val("status", "status"),
		{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
		ref("patientId", "subject", "Patient", "Group", "Device", "Location"),
		ref("encounterId", "encounter", "Encounter"),
		ref("performerId", "performer[0]", practitioners...),
		val("effectiveDateTime", "effectiveDateTime"),
		val("issued", "issued"),
		val("valueQuantity", "valueQuantity"),
		val("valueString", "valueString"),
		{Name: "valueCodeableConcept", Path: "valueCodeableConcept", Kind: Concept},
		{Name: "component", Path: "component", Kind: List, Fields: []Field{
			{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
			val("valueQuantity", "valueQuantity"),
			val("valueString", "valueString"),
		}},
		coded("category", "category[0]", obsCategoryCodes),
		{Name: "interpretation", Path: "interpretation[0]", Kind: Concept, System: sysV3Interpret, Codes: interpretationCodes},
		{Name: "referenceRange", Path: "referenceRange[0]", Kind: Object, Fields: []Field{
			val("low", "low"),
			val("high", "high"),
			val("text", "text"),
		}},
		text("bodySite", "bodySite"),
		text("method", "method"),
		ref("specimenId", "specimen", "Specimen"),
		ref("deviceId", "device", "Device", "DeviceMetric"),
		val("note", "note[0].text"),
	},
	Exclusive: [][]string{{"valueQuantity", "valueString", "valueCodeableConcept"}},
	Params:    params(patientID, statusParam, dates("date")),
	Sorts:     map[string]string{"date": "date", "effectiveDateTime": "date", "status": "status", "lastUpdated": "_lastUpdated"},
}

// Medications: Medication.
var Medications = &Def{
	Path: "medications", Type: "Medication", Schema: "MedicationCreate",
	Fields: []Field{
		{Name: "code", Path: "code", Kind: Concept},
		val("status", "status"),
		text("form", "form"),
		val("manufacturer", "manufacturer.display"),
		val("amount", "amount"),
		{Name: "ingredient", Path: "ingredient", Kind: List, Fields: []Field{
			{Name: "item", Path: "itemCodeableConcept", Kind: Concept},
			val("isActive", "isActive"),
			val("strength", "strength"),
		}},
		val("batch", "batch"),
	},
	Params: params(statusParam),
}

// Appointments: Appointment.
var Appointments = &Def{
	Path: "appointments", Type: "Appointment", Schema: "AppointmentCreate",
	Fields: []Field{
		val("status", "status"),
		{Name: "patientId", Path: "participant[actor.reference^=Patient/]", Kind: Ref, Targets: []string{"Patient"},
			Wrap: map[string]any{"actor": "$", "status": "accepted"}},
		{Name: "practitionerId", Path: "participant[actor.reference^=Practitioner/]", Kind: Ref, Targets: []string{"Practitioner"},
			Wrap: map[string]any{"actor": "$", "status": "accepted"}},
		val("start", "start"),
		val("end", "end"),
		val("minutesDuration", "minutesDuration"),
		coded("appointmentType", "appointmentType", apptTypeCodes),
		text("serviceType", "serviceType[0]"),
		text("serviceCategory", "serviceCategory[0]"),
		text("specialty", "specialty[0]"),
		text("reasonCode", "reasonCode[0]"),
		val("priority", "priority"),
		val("description", "description"),
		val("comment", "comment"),
		val("patientInstruction", "patientInstruction"),
		text("cancelationReason", "cancelationReason"),
		ref("basedOnId", "basedOn[0]", "ServiceRequest"),
		val("requestedPeriod", "requestedPeriod"),
		{Name: "created", Path: "created", Kind: Value, Default: Now},
	},
	Params: params(Param{Name: "patientId", Code: "patient", Kind: RefParam, Target: "Patient"}, statusParam, dates("date")),
	Sorts:  map[string]string{"date": "date", "start": "date", "status": "status", "lastUpdated": "_lastUpdated"},
}

// Prescriptions: MedicationRequest.
var Prescriptions = &Def{
	Path: "prescriptions", Type: "MedicationRequest", Schema: "PrescriptionCreate",
	Fields: []Field{
		ref("patientId", "subject", "Patient", "Group"),
		ref("prescriberId", "requester", "Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"),
		ref("encounterId", "encounter", "Encounter"),
		{Name: "medication", Path: "medicationCodeableConcept", Kind: Concept},
		{Name: "intent", Path: "intent", Kind: Value, Default: "order"},
		{Name: "status", Path: "status", Kind: Value, Default: "active"},
		text("statusReason", "statusReason"),
		val("priority", "priority"),
		coded("category", "category[0]", rxCategoryCodes),
		val("doNotPerform", "doNotPerform"),
		{Name: "authoredOn", Path: "authoredOn", Kind: Value, Default: Now},
		val("dosageText", "dosageInstruction[0].text"),
		{Name: "dosage", Path: "dosageInstruction[0]", Kind: Object, Fields: []Field{
			val("dose", "doseAndRate[0].doseQuantity"),
			val("frequency", "timing.repeat.frequency"),
			val("period", "timing.repeat.period"),
			val("periodUnit", "timing.repeat.periodUnit"),
			text("route", "route"),
		}},
		val("refills", "dispenseRequest.numberOfRepeatsAllowed"),
		val("quantity", "dispenseRequest.quantity"),
		{Name: "supplyDays", Path: "dispenseRequest.expectedSupplyDuration", Kind: Quantity, Unit: "d"},
		val("substitutionAllowed", "substitution.allowedBoolean"),
		text("reason", "reasonCode[0]"),
		val("note", "note[0].text"),
		ref("performerId", "performer", practitioners...),
		coded("courseOfTherapy", "courseOfTherapyType", rxCourseCodes),
		ref("priorPrescriptionId", "priorPrescription", "MedicationRequest"),
	},
	Params: params(patientID, statusParam,
		Param{Name: "prescriberId", Code: "requester", Kind: RefParam, Target: "Practitioner"},
		Param{Name: "medication", Code: "code"},
	),
}

// intakeItemFields are a QuestionnaireResponse item's; items nest.
var intakeItemFields = []Field{
	val("linkId", "linkId"),
	val("definition", "definition"),
	val("text", "text"),
	val("answer", "answer"),
	{Name: "items", Path: "item", Kind: List, Self: true},
}

// Intakes: QuestionnaireResponse.
var Intakes = &Def{
	Path: "intakes", Type: "QuestionnaireResponse", Schema: "IntakeCreate",
	Fields: []Field{
		ref("patientId", "subject", "Patient", "Group"),
		ref("encounterId", "encounter", "Encounter"),
		ref("authorId", "author", "Practitioner", "Device", "PractitionerRole", "Patient", "RelatedPerson", "Organization"),
		ref("sourceId", "source", "Patient", "Practitioner", "PractitionerRole", "RelatedPerson"),
		{Name: "questionnaire", Path: "questionnaire", Kind: Canonical, Targets: []string{"Questionnaire"}},
		{Name: "status", Path: "status", Kind: Value, Default: "completed"},
		{Name: "authored", Path: "authored", Kind: Value, Default: Now},
		refs("basedOn", "basedOn", "CarePlan", "ServiceRequest"),
		refs("partOf", "partOf", "Observation", "Procedure"),
		{Name: "items", Path: "item", Kind: List, Fields: intakeItemFields},
	},
	Params: params(patientID, statusParam, dates("authored")),
}

// consentCodeList is a list of {system, code, display} as Codings.
func codings(name, path string) Field { return Field{Name: name, Path: path, Kind: Codings} }

// consentProvision are the fields of a Consent provision; provisions nest
// (the official SDK sends nested provisions and codes).
var consentProvision = []Field{
	val("type", "type"),
	val("period", "period"),
	{Name: "actor", Path: "actor", Kind: List, Fields: []Field{
		{Name: "role", Path: "role", Kind: Concept, Codes: participantCodes},
		ref("reference", "reference", "Practitioner", "Patient", "Organization", "PractitionerRole", "RelatedPerson", "CareTeam", "Device", "Group"),
	}},
	{Name: "action", Path: "action", Kind: Concepts},
	codings("securityLabel", "securityLabel"),
	codings("purpose", "purpose"),
	codings("class", "class"),
	{Name: "code", Path: "code", Kind: Concepts},
	val("dataPeriod", "dataPeriod"),
	{Name: "data", Path: "data", Kind: List, Fields: []Field{
		val("meaning", "meaning"),
		ref("reference", "reference", "DocumentReference", "Observation", "DiagnosticReport", "Encounter", "Patient", "QuestionnaireResponse",
			"MedicationRequest", "Condition", "Procedure", "ClinicalImpression", "Composition", "Consent"),
	}},
	{Name: "provision", Path: "provision", Kind: List, Self: true},
}

// Consents: Consent.
var Consents = &Def{
	Path: "consents", Type: "Consent", Schema: "ConsentCreate",
	Fields: []Field{
		ref("patientId", "patient", "Patient"),
		{Name: "status", Path: "status", Kind: Value, Default: "active"},
		coded("scope", "scope", consentScopeCodes),
		{Name: "category", Path: "category", Kind: Concepts, System: sysLocalConsentCa},
		val("dateTime", "dateTime"),
		ref("performerId", "performer[0]", "Practitioner", "Organization", "Patient", "RelatedPerson", "PractitionerRole"),
		ref("organizationId", "organization[0]", "Organization"),
		// A shorthand for policies: [{uri}] (exclusive with it).
		{Name: "policyUri", Path: "policy[0].uri", Kind: Value, WriteOnly: true},
		val("policies", "policy"),
		text("policyRule", "policyRule"),
		val("sourceAttachment", "sourceAttachment"),
		ref("sourceReferenceId", "sourceReference", "DocumentReference", "Consent", "Contract", "QuestionnaireResponse"),
		{Name: "verification", Path: "verification", Kind: List, Fields: []Field{
			val("verified", "verified"),
			{Name: "verifiedWith", Path: "verifiedWith", Kind: Ref, Targets: []string{"Patient", "RelatedPerson"}, Loose: true},
			val("verificationDate", "verificationDate"),
		}},
		{Name: "provision", Path: "provision", Kind: Object, Fields: consentProvision},
	},
	Exclusive: [][]string{{"sourceAttachment", "sourceReferenceId"}},
	Conflicts: [][]string{{"policies", "policyUri"}},
	Params:    params(Param{Name: "patientId", Code: "patient", Kind: RefParam, Target: "Patient"}, statusParam, dates("date")),
}

// Labs: DiagnosticReport.
var Labs = &Def{
	Path: "labs", Type: "DiagnosticReport", Schema: "LabCreate",
	Fields: []Field{
		val("status", "status"),
		{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
		ref("patientId", "subject", "Patient", "Group", "Device", "Location"),
		ref("encounterId", "encounter", "Encounter"),
		val("effectiveDateTime", "effectiveDateTime"),
		val("effectivePeriod", "effectivePeriod"),
		refs("resultIds", "result", "Observation"),
		{Name: "category", Path: "category[0]", Kind: Concept, System: sysV2DiagService, Codes: labCategoryCodes},
		val("conclusion", "conclusion"),
		{Name: "conclusionCodes", Path: "conclusionCode", Kind: Concepts},
		ref("performer", "performer[0]", "Practitioner", "PractitionerRole", "Organization", "CareTeam"),
		ref("resultsInterpreter", "resultsInterpreter[0]", "Practitioner", "PractitionerRole", "Organization", "CareTeam"),
		refs("specimenIds", "specimen", "Specimen"),
		val("presentedForm", "presentedForm"),
		refs("basedOn", "basedOn", "ServiceRequest", "CarePlan", "ImmunizationRecommendation", "MedicationRequest", "NutritionOrder"),
		{Name: "media", Path: "media", Kind: List, Fields: []Field{
			val("comment", "comment"),
			ref("linkId", "link", "Media"),
		}},
	},
	Exclusive: [][]string{{"effectiveDateTime", "effectivePeriod"}},
	Params:    params(patientID, statusParam, dates("date")),
	Sorts:     map[string]string{"date": "date", "effectiveDateTime": "date", "status": "status", "lastUpdated": "_lastUpdated"},
}

// Notes: DocumentReference.
var Notes = &Def{
	Path: "notes", Type: "DocumentReference", Schema: "NoteCreate",
	Fixed: []Field{{Path: "status", Kind: Const, Value: "current"}},
	Fields: []Field{
		ref("patientId", "subject", "Patient", "Group", "Device", "Practitioner"),
		ref("authorId", "author[0]", "Practitioner", "PractitionerRole", "Organization", "Device", "Patient", "RelatedPerson"),
		ref("encounterId", "context.encounter[0]", "Encounter", "EpisodeOfCare"),
		coded("type", "type", noteTypes),
		val("title", "description"),
		{Name: "content", Path: "content[0].attachment.data", Kind: Base64},
		{Name: "contentType", Path: "content[0].attachment.contentType", Kind: Value, Default: "text/plain"},
		val("docStatus", "docStatus"),
		{Name: "category", Path: "category[0]", Kind: Concept, System: sysLocalNoteCat},
		{Name: "date", Path: "date", Kind: Value, Default: Now},
		{Name: "relatesTo", Path: "relatesTo", Kind: List, Fields: []Field{
			val("code", "code"),
			ref("targetId", "target", "DocumentReference"),
		}},
		{Name: "securityLabel", Path: "securityLabel", Kind: Concepts},
		ref("authenticatorId", "authenticator", "Practitioner", "Organization", "PractitionerRole"),
		ref("custodianId", "custodian", "Organization"),
		val("servicePeriod", "context.period"),
		text("facilityType", "context.facilityType"),
		text("practiceSetting", "context.practiceSetting"),
	},
	Params: params(patientID,
		Param{Name: "type", Code: "type", Kind: Token, Codes: noteTypes},
		Param{Name: "authorId", Code: "author", Kind: RefParam, Target: "Practitioner"},
		Param{Name: "encounterId", Code: "encounter", Kind: RefParam, Target: "Encounter"},
		dates("date"),
		// Not in the contract; the official SDK's note search sends them.
		Param{Name: "category", Code: "category", Kind: Token, System: sysLocalNoteCat},
		Param{Name: "date", Code: "date"},
	),
}

// Assessments: ClinicalImpression.
var Assessments = &Def{
	Path: "assessments", Type: "ClinicalImpression", Schema: "AssessmentCreate",
	Fields: []Field{
		val("status", "status"),
		text("statusReason", "statusReason"),
		ref("patientId", "subject", "Patient", "Group"),
		ref("encounterId", "encounter", "Encounter"),
		ref("practitionerId", "assessor", "Practitioner", "PractitionerRole"),
		text("code", "code"),
		val("description", "description"),
		val("summary", "summary"),
		{Name: "findings", Path: "finding", Kind: List, Fields: []Field{
			val("code", "itemCodeableConcept.coding[0].code"),
			val("text", "itemCodeableConcept.text"),
			val("basis", "basis"),
		}},
		val("note", "note[0].text"),
		val("effectiveDateTime", "effectiveDateTime"),
		{Name: "date", Path: "date", Kind: Value, Default: Now},
		ref("previousAssessmentId", "previous", "ClinicalImpression"),
		refs("problemIds", "problem", "Condition", "AllergyIntolerance"),
		{Name: "investigations", Path: "investigation", Kind: List, Fields: []Field{
			val("name", "code.text"),
			refs("itemIds", "item", "Observation", "QuestionnaireResponse", "FamilyMemberHistory", "DiagnosticReport", "RiskAssessment", "ImagingStudy", "Media"),
		}},
		val("protocol", "protocol"),
		{Name: "prognosis", Path: "prognosisCodeableConcept", Kind: List, Fields: []Field{
			val("code", "coding[0].code"),
			val("text", "text"),
		}},
		refs("supportingInfoIds", "supportingInfo", "Observation", "DiagnosticReport", "QuestionnaireResponse", "Condition", "Procedure",
			"MedicationRequest", "AllergyIntolerance", "DocumentReference", "Encounter", "ImagingStudy", "Media", "RiskAssessment"),
	},
	Params: params(patientID, statusParam,
		Param{Name: "practitionerId", Code: "assessor", Kind: RefParam, Target: "Practitioner"},
		Param{Name: "encounterId", Code: "encounter", Kind: RefParam, Target: "Encounter"},
		dates("date"),
	),
}

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
var Documents = &Def{
	Path: "documents", Type: "Composition", Schema: "DocumentCreate",
	Fields: []Field{
		val("status", "status"),
		{Name: "type", Path: "type", Kind: Concept, System: sysLocalDocType, Codes: documentTypes},
		{Name: "category", Path: "category", Kind: Concepts},
		ref("patientId", "subject", "Patient", "Group"),
		ref("encounterId", "encounter", "Encounter"),
		ref("practitionerId", "author[0]", "Practitioner", "PractitionerRole", "Device", "Patient", "RelatedPerson", "Organization"),
		val("title", "title"),
		{Name: "date", Path: "date", Kind: Value, Default: Now},
		val("confidentiality", "confidentiality"),
		{Name: "attester", Path: "attester", Kind: List, Fields: []Field{
			val("mode", "mode"),
			val("time", "time"),
			ref("partyId", "party", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Organization"),
		}},
		ref("custodianId", "custodian", "Organization"),
		{Name: "relatesTo", Path: "relatesTo", Kind: List, Fields: []Field{
			val("code", "code"),
			ref("targetId", "targetReference", "Composition"),
		}},
		{Name: "event", Path: "event", Kind: List, Fields: []Field{
			{Name: "code", Path: "code", Kind: Concepts},
			val("period", "period"),
			refs("detailIds", "detail", "Observation", "Procedure", "Encounter", "Condition", "DiagnosticReport", "MedicationRequest", "ServiceRequest"),
		}},
		{Name: "sections", Path: "section", Kind: List, Fields: documentSection},
	},
	Params: params(patientID,
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalDocType, Codes: documentTypes},
		Param{Name: "practitionerId", Code: "author", Kind: RefParam, Target: "Practitioner"},
		statusParam,
		dates("date"),
	),
}
