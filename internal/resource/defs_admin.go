package resource

import (
	"regexp"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// administrative are the contract's administrative, scheduling, financial
// and quality resources.
var administrative = []*Def{
	Organizations, Locations, HealthcareServices, Schedules, Slots, AppointmentResponses, Persons, Accounts,
	Coverages, Claims, ClaimResponses, EOBs, Invoices, ChargeItems, PaymentNotices, PaymentReconciliations,
	EligibilityRequests, EligibilityResponses, EnrollmentRequests, EnrollmentResponses,
	Measures, MeasureReports, PlanDefinitions, ActivityDefinitions,
}

func init() {
	// Contract query parameters over elements R4 defines no search
	// parameter for.
	ElementParams = append(ElementParams,
		ElementParam{Type: "Person", Code: "active", Element: "active", ParamType: fhir.Token},
		ElementParam{Type: "ExplanationOfBenefit", Code: "use", Element: "use", ParamType: fhir.Token},
		ElementParam{Type: "ExplanationOfBenefit", Code: "outcome", Element: "outcome", ParamType: fhir.Token},
		ElementParam{Type: "ChargeItem", Code: "status", Element: "status", ParamType: fhir.Token},
		ElementParam{Type: "EnrollmentRequest", Code: "insurer", Element: "insurer", ParamType: fhir.Reference},
		ElementParam{Type: "EnrollmentResponse", Code: "outcome", Element: "outcome", ParamType: fhir.Token},
		ElementParam{Type: "ActivityDefinition", Code: "kind", Element: "kind", ParamType: fhir.Token},
		ElementParam{Type: "ActivityDefinition", Code: "code", Element: "code", ParamType: fhir.Token},
	)
}

// Code systems of the administrative resources.
const (
	sysOrgType        = "http://terminology.hl7.org/CodeSystem/organization-type"
	sysContactEntity  = "http://terminology.hl7.org/CodeSystem/contactentity-type"
	sysV3Role         = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	sysLocPhysType    = "http://terminology.hl7.org/CodeSystem/location-physical-type"
	sysReferralMethod = "http://terminology.hl7.org/CodeSystem/service-referral-method"
	sysLocalOrgType   = CodeSystemBase + "organization-type"
	sysLocalLocType   = CodeSystemBase + "location-type"
	sysLocalSvcType   = CodeSystemBase + "service-type"
	sysLocalSvcCat    = CodeSystemBase + "service-category"
	sysLocalSpecialty = CodeSystemBase + "specialty"
	sysLocalAcctType  = CodeSystemBase + "account-type"

	sysSubscriberRel    = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
	sysCoverageClass    = "http://terminology.hl7.org/CodeSystem/coverage-class"
	sysClaimType        = "http://terminology.hl7.org/CodeSystem/claim-type"
	sysProcPriority     = "http://terminology.hl7.org/CodeSystem/processpriority"
	sysClaimInfo        = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
	sysAdjudication     = "http://terminology.hl7.org/CodeSystem/adjudication"
	sysPayeeType        = "http://terminology.hl7.org/CodeSystem/payeetype"
	sysExPaymentType    = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
	sysPaymentType      = "http://terminology.hl7.org/CodeSystem/payment-type"
	sysPaymentStatus    = "http://terminology.hl7.org/CodeSystem/paymentstatus"
	sysMeasureScoring   = "http://terminology.hl7.org/CodeSystem/measure-scoring"
	sysMeasureType      = "http://terminology.hl7.org/CodeSystem/measure-type"
	sysMeasurePop       = "http://terminology.hl7.org/CodeSystem/measure-population"
	sysDefTopic         = "http://terminology.hl7.org/CodeSystem/definition-topic"
	sysPlanDefType      = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
	sysPlanGoalPriority = "http://terminology.hl7.org/CodeSystem/goal-priority"
	sysActionType       = "http://terminology.hl7.org/CodeSystem/action-type"
	sysICD10CM          = "http://hl7.org/fhir/sid/icd-10-cm"
	sysCPT              = "http://www.ama-assn.org/go/cpt"
	sysLocalCovType     = CodeSystemBase + "coverage-type"
	sysLocalTopic       = CodeSystemBase + "topic"
	sysLocalPlanType    = CodeSystemBase + "plan-definition-type"
)

// codeList is a table of a code system's codes, each known by its code.
func codeList(system string, codes ...string) map[string]Code {
	m := make(map[string]Code, len(codes))
	for _, c := range codes {
		m[c] = Code{System: system, Code: c}
	}
	return m
}

// withWords adds words (lower case) that stand for codes of a table.
func withWords(codes map[string]Code, words map[string]string) map[string]Code {
	for w, c := range words {
		codes[w] = codes[c]
	}
	return codes
}

// localConcept is a CodeableConcept whose known strings are codes of a
// standard system and whose others are codes of a ClinikAPI system (so that
// they are searchable as tokens).
func localConcept(name, path string, kind Kind, system string, codes map[string]Code) Field {
	return Field{Name: name, Path: path, Kind: kind, System: system, Codes: codes}
}

var (
	orgTypeCodes = withWords(codeList(sysOrgType, "prov", "dept", "team", "govt", "ins", "pay", "edu", "reli", "crs", "cg", "bus", "other"),
		map[string]string{"provider": "prov", "department": "dept", "government": "govt", "insurer": "ins", "payer": "pay",
			"educational": "edu", "religious": "reli", "clinical-research": "crs", "community": "cg", "business": "bus"})
	contactPurposeCodes = withWords(codeList(sysContactEntity, "BILL", "ADMIN", "HR", "PAYOR", "PATINF", "PRESS"),
		map[string]string{"billing": "BILL", "administrative": "ADMIN", "admin": "ADMIN", "hr": "HR", "payor": "PAYOR", "payer": "PAYOR",
			"patient": "PATINF", "press": "PRESS"})
	locationTypeCodes = codeList(sysV3Role, "HOSP", "ER", "ICU", "PEDICU", "OR", "HU", "PHARM", "OUTPHARM", "HLAB", "RADDX",
		"PROFF", "PEDC", "CARD", "PC", "DENT", "PTRES", "GIM", "HOSPAMB")
	physicalTypeCodes = withWords(codeList(sysLocPhysType, "si", "bu", "wi", "wa", "lvl", "co", "ro", "bd", "ve", "ho", "ca", "rd", "area", "jdn"),
		map[string]string{"site": "si", "building": "bu", "wing": "wi", "ward": "wa", "level": "lvl", "corridor": "co", "room": "ro",
			"bed": "bd", "vehicle": "ve", "house": "ho", "cabinet": "ca", "road": "rd", "jurisdiction": "jdn"})
	referralMethodCodes = withWords(codeList(sysReferralMethod, "fax", "phone", "elec", "semail", "mail"),
		map[string]string{"electronic": "elec", "secure-email": "semail"})
	accountTypeCodes = map[string]Code{"patient": {sysV3ActCode, "PBILLACCT", "patient billing account"}}

	// coverageTypeCodes are the contract's coverage types as v3 insurance
	// policy codes.
	coverageTypeCodes = map[string]Code{
		"medical": {sysV3ActCode, "HIP", "health insurance plan policy"}, "dental": {sysV3ActCode, "DENTAL", "dental care policy"},
		"vision": {sysV3ActCode, "VISPOL", "vision care policy"}, "pharmacy": {sysV3ActCode, "DRUGPOL", "drug policy"},
		"mental-health": {sysV3ActCode, "MENTPOL", "mental health policy"},
	}
	subscriberRelCodes = codeList(sysSubscriberRel, "child", "parent", "spouse", "common", "other", "self", "injured")
	coverageClassCodes = codeList(sysCoverageClass, "group", "subgroup", "plan", "subplan", "class", "subclass", "sequence", "subsequence",
		"rxbin", "rxpcn", "rxid", "rxgroup")
	claimTypeCodes    = codeList(sysClaimType, "institutional", "oral", "pharmacy", "professional", "vision")
	procPriorityCodes = codeList(sysProcPriority, "stat", "normal", "deferred")
	adjudicationCodes = codeList(sysAdjudication, "submitted", "copay", "eligible", "deductible", "unallocdeduct", "eligpercent", "tax", "benefit")
	payeeTypeCodes    = codeList(sysPayeeType, "subscriber", "provider", "other")
	exPaymentCodes    = codeList(sysExPaymentType, "complete", "partial")
	paymentTypeCodes  = codeList(sysPaymentType, "payment", "adjustment", "advance")
	paymentStatCodes  = codeList(sysPaymentStatus, "paid", "cleared")
	measureScoring    = codeList(sysMeasureScoring, "proportion", "ratio", "continuous-variable", "cohort")
	measureTypeCodes  = codeList(sysMeasureType, "process", "outcome", "structure", "patient-reported-outcome", "composite")
	measurePopCodes   = codeList(sysMeasurePop, "initial-population", "numerator", "numerator-exclusion", "denominator", "denominator-exclusion",
		"denominator-exception", "measure-population", "measure-population-exclusion", "measure-observation")
	topicCodes            = codeList(sysDefTopic, "treatment", "education", "assessment")
	planDefTypeCodes      = codeList(sysPlanDefType, "order-set", "clinical-protocol", "eca-rule", "workflow-definition")
	planGoalPriorityCodes = codeList(sysPlanGoalPriority, "high-priority", "medium-priority", "low-priority")
	actionTypeCodes       = codeList(sysActionType, "create", "update", "remove", "fire-event")

	// icd10 matches ICD-10-CM codes (E11.9); cpt CPT codes (99213).
	icd10 = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$`)
	cpt   = regexp.MustCompile(`^[0-9]{4}[0-9A-Z]$`)
)

// billing is a CodeableConcept of a billed service: CPT codes, other
// strings as text.
func billing(name, path string) Field {
	return Field{Name: name, Path: path, Kind: Concept, System: sysCPT, CodeIf: cpt}
}

// topic are the subjects of a knowledge artifact: definition-topic codes,
// others codes of ClinikAPI's topic system (searchable as tokens).
func topic() Field { return localConcept("topic", "topic", Concepts, sysLocalTopic, topicCodes) }

// Targets of references that R4 allows to any resource.
var (
	requestTargets  = []string{"Claim", "CoverageEligibilityRequest", "EnrollmentRequest", "Invoice", "Account", "ChargeItem", "Task"}
	responseTargets = []string{"ClaimResponse", "CoverageEligibilityResponse", "EnrollmentResponse", "PaymentReconciliation", "Task"}
)

// actorTargets are what a schedule's or an appointment response's actor
// may be; a bare id of no known prefix is a Practitioner's.
var actorTargets = []string{"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Device", "HealthcareService", "Location"}

// Organizations: Organization.
var Organizations = override("organizations", func(d *Def) {
	d.set(
		localConcept("type", "type", Concepts, sysLocalOrgType, orgTypeCodes),
		telecom("phone", "phone"),
		telecom("email", "email"),
	)
	d.edit("contact").set(
		coded("purpose", "purpose", contactPurposeCodes),
		val("firstName", "name.given[0]"),
		val("lastName", "name.family"),
		telecom("phone", "phone"),
		telecom("email", "email"),
	)
	d.edit("active").Default = true
	d.setParam(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalOrgType, Codes: orgTypeCodes},
	)
})

// Locations: Location.
var Locations = override("locations", func(d *Def) {
	d.set(
		localConcept("type", "type", Concepts, sysLocalLocType, locationTypeCodes),
		telecom("phone", "phone"),
		telecom("email", "email"),
		coded("physicalType", "physicalType", physicalTypeCodes),
	)
	d.setParam(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalLocType, Codes: locationTypeCodes},
	)
})

// HealthcareServices: HealthcareService.
var HealthcareServices = override("healthcare-services", func(d *Def) {
	d.set(
		localConcept("category", "category", Concepts, sysLocalSvcCat, nil),
		localConcept("type", "type", Concepts, sysLocalSvcType, nil),
		localConcept("specialty", "specialty", Concepts, sysLocalSpecialty, nil),
		// Names of the places the service is offered at: references with
		// only a display (Location/id is a reference to a Location).
		Field{Name: "locationNames", Path: "location", Kind: Refs, Targets: []string{"Location"}, Loose: true},
		telecom("phone", "phone"),
		telecom("email", "email"),
		coded("referralMethod", "referralMethod", referralMethodCodes),
		languageConcept("communication", "communication", Concepts),
	)
	d.edit("referralMethod").Kind = Concepts
	d.edit("active").Default = true
	d.setParam(
		Param{Name: "name", Code: "name:contains"},
		Param{Name: "type", Code: "service-type", Kind: Token, System: sysLocalSvcType},
		Param{Name: "specialty", Code: "specialty", Kind: Token, System: sysLocalSpecialty},
	)
})

// Schedules: Schedule.
var Schedules = override("schedules", func(d *Def) {
	d.set(
		localConcept("serviceCategory", "serviceCategory", Concepts, sysLocalSvcCat, nil),
		localConcept("serviceType", "serviceType", Concepts, sysLocalSvcType, nil),
		localConcept("specialty", "specialty", Concepts, sysLocalSpecialty, nil),
	)
	d.edit("actorIds").Targets = actorTargets
	d.edit("active").Default = true
	d.setParam(
		Param{Name: "serviceType", Code: "service-type", Kind: Token, System: sysLocalSvcType},
		Param{Name: "specialty", Code: "specialty", Kind: Token, System: sysLocalSpecialty},
	)
})

// Slots: Slot.
var Slots = override("slots", func(d *Def) {
	d.set(
		localConcept("serviceCategory", "serviceCategory[0]", Concept, sysLocalSvcCat, nil),
		localConcept("serviceType", "serviceType[0]", Concept, sysLocalSvcType, nil),
		localConcept("specialty", "specialty[0]", Concept, sysLocalSpecialty, nil),
		coded("appointmentType", "appointmentType", apptTypeCodes),
	)
	d.setParam(
		Param{Name: "serviceType", Code: "service-type", Kind: Token, System: sysLocalSvcType},
		Param{Name: "specialty", Code: "specialty", Kind: Token, System: sysLocalSpecialty},
	)
})

// AppointmentResponses: AppointmentResponse.
var AppointmentResponses = override("appointment-responses", func(d *Def) {
	d.set(coded("participantType", "participantType[0]", participantCodes))
	d.edit("actorId").Targets = actorTargets
	d.setParam(
		Param{Name: "actorId", Code: "actor", Kind: RefParam, Target: "Practitioner"},
		Param{Name: "participantStatus", Code: "part-status"},
	)
})

// Persons: Person.
var Persons = override("persons", func(d *Def) {
	d.set(
		val("firstName", "name[0].given[0]"),
		val("lastName", "name[0].family"),
		telecom("phone", "phone"),
		telecom("email", "email"),
	)
	d.edit("active").Default = true
	d.setParam(
		Param{Name: "name", Code: "name:contains"},
		// R4 searches Person.active with no parameter; the index does.
		Param{Name: "active", Code: "active"},
	)
})

// Accounts: Account.
var Accounts = override("accounts", func(d *Def) {
	d.set(localConcept("type", "type", Concept, sysLocalAcctType, accountTypeCodes))
	d.setParam(Param{Name: "type", Code: "type", Kind: Token, System: sysLocalAcctType, Codes: accountTypeCodes})
})

// Coverages: Coverage.
var Coverages = override("coverages", func(d *Def) {
	d.set(
		ref("patientId", "beneficiary", "Patient"),
		localConcept("type", "type", Concept, sysLocalCovType, coverageTypeCodes),
		ref("subscriberRef", "subscriber", "Patient", "RelatedPerson"),
		ref("policyHolderRef", "policyHolder", "Patient", "RelatedPerson", "Organization"),
		coded("relationship", "relationship", subscriberRelCodes),
	)
	d.edit("class.type").Codes = coverageClassCodes
	d.setParam(
		Param{Name: "patientId", Code: "beneficiary", Kind: RefParam, Target: "Patient"},
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalCovType, Codes: coverageTypeCodes},
	)
})

// Claims: Claim.
var Claims = override("claims", func(d *Def) {
	d.set(
		coded("type", "type", claimTypeCodes),
		coded("priority", "priority", procPriorityCodes),
		// R4 Claim has no note: supporting information of category info.
		Field{Name: "note", Path: "supportingInfo[category.coding.code=info]", Kind: Value,
			Wrap: map[string]any{"sequence": 1.0, "category": map[string]any{"coding": []any{map[string]any{"system": sysClaimInfo, "code": "info"}}}, "valueString": "$"}},
	)
	d.edit("created").Default = Now
	d.edit("diagnosis").set(Field{Name: "code", Path: "diagnosisCodeableConcept", Kind: Concept, System: sysICD10CM, CodeIf: icd10})
	d.edit("procedure").set(billing("code", "procedureCodeableConcept"))
	d.edit("item").set(billing("productOrService", "productOrService"))
})

// ClaimResponses: ClaimResponse.
var ClaimResponses = override("claim-responses", func(d *Def) {
	d.set(
		coded("type", "type", claimTypeCodes),
		coded("payeeType", "payeeType", payeeTypeCodes),
		// R4 ClaimResponse has processNote (mapped as such) but no note.
		extension("note", Value, "valueString"),
	)
	d.edit("created").Default = Now
	d.edit("item.adjudication.category").Codes = adjudicationCodes
	d.edit("total.category").Codes = adjudicationCodes
	d.edit("payment.type").Codes = exPaymentCodes
})

// EOBs: ExplanationOfBenefit.
var EOBs = override("eobs", func(d *Def) {
	d.set(coded("type", "type", claimTypeCodes))
	d.edit("created").Default = Now
	d.edit("item").set(billing("productOrService", "productOrService"))
	d.edit("item.adjudication.category").Codes = adjudicationCodes
	d.edit("total.category").Codes = adjudicationCodes
	d.edit("payment.type").Codes = exPaymentCodes
	// R4 searches neither ExplanationOfBenefit.use nor outcome; the index does.
	d.setParam(
		Param{Name: "use", Code: "use"},
		Param{Name: "outcome", Code: "outcome"},
	)
})

// Invoices: Invoice.
var Invoices = override("invoices", func(d *Def) {
	d.edit("lineItem").set(billing("chargeItemCode", "chargeItemCodeableConcept"))
})

// ChargeItems: ChargeItem.
var ChargeItems = override("charge-items", func(d *Def) {
	d.set(
		billing("code", "code"),
		ref("encounterId", "context", "Encounter", "EpisodeOfCare"),
		text("bodySite", "bodysite"),
	)
	d.edit("bodySite").Kind = Concepts
	d.setParam(
		// R4 searches ChargeItem.status with no parameter; the index does.
		Param{Name: "status", Code: "status"},
		Param{Name: "dateFrom", Code: "entered-date", Kind: From},
		Param{Name: "dateTo", Code: "entered-date", Kind: To},
	)
})

// PaymentNotices: PaymentNotice.
var PaymentNotices = override("payment-notices", func(d *Def) {
	d.set(
		coded("paymentStatus", "paymentStatus", paymentStatCodes),
		Field{Name: "requestId", Path: "request", Kind: Ref, Targets: requestTargets},
		Field{Name: "responseId", Path: "response", Kind: Ref, Targets: responseTargets},
	)
	d.edit("created").Default = Now
})

// PaymentReconciliations: PaymentReconciliation.
var PaymentReconciliations = override("payment-reconciliations", func(d *Def) {
	d.edit("created").Default = Now
	d.edit("detail").set(
		coded("type", "type", paymentTypeCodes),
		Field{Name: "requestId", Path: "request", Kind: Ref, Targets: requestTargets},
	)
})

// EligibilityRequests: CoverageEligibilityRequest.
var EligibilityRequests = override("eligibility-requests", func(d *Def) {
	d.edit("created").Default = Now
	d.edit("item").set(billing("productOrService", "productOrService"))
})

// EligibilityResponses: CoverageEligibilityResponse.
var EligibilityResponses = override("eligibility-responses", func(d *Def) {
	d.edit("created").Default = Now
})

// EnrollmentRequests: EnrollmentRequest.
var EnrollmentRequests = override("enrollment-requests", func(d *Def) {
	d.setParam(
		// R4's subject parameter searches EnrollmentRequest.candidate.
		Param{Name: "candidateId", Code: "subject", Kind: RefParam, Target: "Patient"},
		// R4 searches EnrollmentRequest.insurer with no parameter; the index does.
		Param{Name: "insurerId", Code: "insurer", Kind: RefParam, Target: "Organization"},
	)
})

// EnrollmentResponses: EnrollmentResponse.
var EnrollmentResponses = override("enrollment-responses", func(d *Def) {
	// R4 searches EnrollmentResponse.outcome with no parameter; the index does.
	d.setParam(Param{Name: "outcome", Code: "outcome"})
})

// Measures: Measure.
var Measures = override("measures", func(d *Def) {
	d.set(
		coded("scoring", "scoring", measureScoring),
		coded("type", "type", measureTypeCodes),
		topic(),
	)
	d.edit("type").Kind = Concepts
	d.setParam(Param{Name: "name", Code: "name:contains"}, Param{Name: "title", Code: "title:contains"})
})

// MeasureReports: MeasureReport.
var MeasureReports = override("measure-reports", func(d *Def) {
	d.edit("group.population.code").Codes = measurePopCodes
})

// PlanDefinitions: PlanDefinition.
var PlanDefinitions = override("plan-definitions", func(d *Def) {
	d.set(
		localConcept("type", "type", Concept, sysLocalPlanType, planDefTypeCodes),
		topic(),
	)
	d.edit("goal.priority").Codes = planGoalPriorityCodes
	d.edit("action.type").Codes = actionTypeCodes
	d.setParam(
		Param{Name: "name", Code: "name:contains"}, Param{Name: "title", Code: "title:contains"},
		Param{Name: "type", Code: "type", Kind: Token, System: sysLocalPlanType, Codes: planDefTypeCodes},
	)
})

// ActivityDefinitions: ActivityDefinition.
var ActivityDefinitions = override("activity-definitions", func(d *Def) {
	d.set(
		Field{Name: "code", Path: "code", Kind: Concept, System: sysLOINC, CodeIf: loincCode},
		topic(),
	)
	d.setParam(
		Param{Name: "name", Code: "name:contains"}, Param{Name: "title", Code: "title:contains"},
		// R4 searches neither ActivityDefinition.kind nor code; the index does.
		Param{Name: "kind", Code: "kind"},
		Param{Name: "code", Code: "code"},
	)
})
