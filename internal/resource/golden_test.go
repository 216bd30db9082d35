package resource

// The hand-written declarations of the 14 core resources as they were
// before the generated base (base_gen.go) and the overrides (defs.go)
// replaced them: TestGeneratedMatchesGolden holds the two to the same
// Defs. They share defs.go's helpers and code tables.

// Helpers of the hand-written declarations that the overrides no longer need.

func codings(name, path string) Field { return Field{Name: name, Path: path, Kind: Codings} }

var (
	patientID   = Param{Name: "patientId", Code: "subject", Kind: RefParam, Target: "Patient"}
	statusParam = Param{Name: "status", Code: "status"}
)

func dates(code string) []Param {
	return []Param{{Name: "dateFrom", Code: code, Kind: From}, {Name: "dateTo", Code: code, Kind: To}}
}

var goldenAll = []*Def{
	goldenPatients, goldenPractitioners, goldenPractitionerRoles, goldenEncounters, goldenObservations, goldenMedications, goldenAppointments,
	goldenPrescriptions, goldenIntakes, goldenConsents, goldenLabs, goldenNotes, goldenAssessments, goldenDocuments,
}

var goldenAddress = val("address", "address[0]")

// goldenPatients: Patient.
var goldenPatients = &Def{
	Path: "patients", Type: "Patient", Schema: "PatientCreate",
	Fields: []Field{
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		telecom("email", "email"),
		telecom("phone", "phone"),
		val("gender", "gender"),
		val("birthDate", "birthDate"),
		goldenAddress,
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

// goldenPractitioners: Practitioner.
var goldenPractitioners = &Def{
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
		goldenAddress,
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

// goldenPractitionerRoles: PractitionerRole.
var goldenPractitionerRoles = &Def{
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

// goldenEncounters: Encounter.
var goldenEncounters = &Def{
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

// goldenObservations: Observation.
var goldenObservations = &Def{
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

// goldenMedications: Medication.
var goldenMedications = &Def{
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

// goldenAppointments: Appointment.
var goldenAppointments = &Def{
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

// goldenPrescriptions: MedicationRequest.
var goldenPrescriptions = &Def{
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

// goldenIntakeItemFields are a QuestionnaireResponse item's; items nest.
var goldenIntakeItemFields = []Field{
	val("linkId", "linkId"),
	val("definition", "definition"),
	val("text", "text"),
	val("answer", "answer"),
	{Name: "items", Path: "item", Kind: List, Self: true},
}

// goldenIntakes: QuestionnaireResponse.
var goldenIntakes = &Def{
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
		{Name: "items", Path: "item", Kind: List, Fields: goldenIntakeItemFields},
	},
	Params: params(patientID, statusParam, dates("authored")),
}

// goldenConsentProvision are the fields of a Consent provision; provisions nest
// (the official SDK sends nested provisions and codes).
var goldenConsentProvision = []Field{
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

// goldenConsents: Consent.
var goldenConsents = &Def{
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
		{Name: "provision", Path: "provision", Kind: Object, Fields: goldenConsentProvision},
	},
	Exclusive: [][]string{{"sourceAttachment", "sourceReferenceId"}},
	Conflicts: [][]string{{"policies", "policyUri"}},
	Params:    params(Param{Name: "patientId", Code: "patient", Kind: RefParam, Target: "Patient"}, statusParam, dates("date")),
}

// goldenLabs: DiagnosticReport.
var goldenLabs = &Def{
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

// goldenNotes: DocumentReference.
var goldenNotes = &Def{
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

// goldenAssessments: ClinicalImpression.
var goldenAssessments = &Def{
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

// goldenDocumentSection are a Composition section's fields; sections nest.
var goldenDocumentSection = []Field{
	val("title", "title"),
	{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
	{Name: "text", Path: "text", Kind: Narrative},
	refs("resourceIds", "entry", "Observation", "Condition", "MedicationRequest", "Procedure", "AllergyIntolerance", "DiagnosticReport",
		"Encounter", "Immunization", "DocumentReference", "ClinicalImpression", "CarePlan", "Patient", "QuestionnaireResponse"),
	ref("authorId", "author[0]", "Practitioner", "PractitionerRole", "Device", "Patient", "RelatedPerson", "Organization"),
	val("mode", "mode"),
	{Name: "sections", Path: "section", Kind: List, Self: true},
}

// goldenDocuments: Composition.
var goldenDocuments = &Def{
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
		{Name: "sections", Path: "section", Kind: List, Fields: goldenDocumentSection},
	},
	Params: params(patientID,
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalDocType, Codes: documentTypes},
		Param{Name: "practitionerId", Code: "author", Kind: RefParam, Target: "Practitioner"},
		statusParam,
		dates("date"),
		// Added since: the official SDK's document search sends it.
		Param{Name: "date", Code: "date"},
	),
}
