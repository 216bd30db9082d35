package resource

import (
	"regexp"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// clinical are the contract's clinical resources beyond the core ones:
// problems, allergies, immunizations, care plans and the like.
var clinical = []*Def{
	Tasks, ServiceRequests, FamilyHistory, CarePlans, Immunizations, Allergies, CareTeams, Conditions,
	Devices, DeviceRequests, DeviceUseStatements, Goals, MedicationDispenses, MedicationKnowledge,
	MedicationStatements, Specimens, ImagingStudies, ImmunizationEvaluations, Media, NutritionOrders,
	VisionPrescriptions, RiskAssessments, AuditEvents, ImmunizationRecommendations,
}

func init() {
	// Contract query parameters over elements R4 defines no search
	// parameter for.
	ElementParams = append(ElementParams,
		ElementParam{Type: "CarePlan", Code: "author", Element: "author", ParamType: fhir.Reference},
		ElementParam{Type: "RiskAssessment", Code: "status", Element: "status", ParamType: fhir.Token},
		ElementParam{Type: "DeviceUseStatement", Code: "status", Element: "status", ParamType: fhir.Token},
	)
}

// Code systems of the clinical resources.
const (
	sysAllergyClinical = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	sysAllergyVerify   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	sysCondClinical    = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	sysCondVerify      = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysCondCategory    = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysGoalAchievement = "http://terminology.hl7.org/CodeSystem/goal-achievement"
	sysGoalPriority    = "http://terminology.hl7.org/CodeSystem/goal-priority"
	sysGoalCategory    = "http://terminology.hl7.org/CodeSystem/goal-category"
	sysDoseStatus      = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
	sysForecastStatus  = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
	sysRiskProbability = "http://terminology.hl7.org/CodeSystem/risk-probability"
	sysMedStmtCategory = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
	sysMediaType       = "http://terminology.hl7.org/CodeSystem/media-type"
	sysVisionProduct   = "http://terminology.hl7.org/CodeSystem/ex-visionprescriptionproduct"
	sysV3RoleCode      = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	sysV2Specimen      = "http://terminology.hl7.org/CodeSystem/v2-0487"
	sysAuditType       = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysAuditEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysAuditObjectRole = "http://terminology.hl7.org/CodeSystem/object-role"
	sysRestful         = "http://hl7.org/fhir/restful-interaction"
	sysTaskCode        = "http://hl7.org/fhir/CodeSystem/task-code"
	sysGender          = "http://hl7.org/fhir/administrative-gender"
	sysDICOM           = "http://dicom.nema.org/resources/ontology/DCM"
	sysCVX             = "http://hl7.org/fhir/sid/cvx"
	sysSNOMED          = "http://snomed.info/sct"

	sysLocalCarePlanCat = CodeSystemBase + "care-plan-category"
	sysLocalCareTeamCat = CodeSystemBase + "care-team-category"
	sysLocalGoalCat     = CodeSystemBase + "goal-category"
	sysLocalSRCategory  = CodeSystemBase + "service-request-category"
	sysLocalSpecimen    = CodeSystemBase + "specimen-type"
	sysLocalDisease     = CodeSystemBase + "target-disease"
	sysLocalRiskMethod  = CodeSystemBase + "risk-assessment-method"
	sysLocalDoseForm    = CodeSystemBase + "dose-form"
	sysLocalDeviceType  = CodeSystemBase + "device-type"
	sysLocalMediaMod    = CodeSystemBase + "media-modality"
	sysLocalTaskCode    = CodeSystemBase + "task-code"
	sysLocalAuditType   = CodeSystemBase + "audit-event-type"
	sysLocalAuditSub    = CodeSystemBase + "audit-event-subtype"
)

// cvxCode matches CVX vaccine codes (208); other strings are text.
var cvxCode = regexp.MustCompile(`^[0-9]{1,3}$`)

// codesOf makes a table of the codes of one system whose bare strings are
// the codes themselves.
func codesOf(system string, pairs ...string) map[string]Code {
	m := make(map[string]Code, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = Code{system, pairs[i], pairs[i+1]}
	}
	return m
}

// Known codes of the clinical resources' fields whose contract values are
// words.
var (
	allergyClinicalCodes = codesOf(sysAllergyClinical, "active", "Active", "inactive", "Inactive", "resolved", "Resolved")
	allergyVerifyCodes   = codesOf(sysAllergyVerify, "unconfirmed", "Unconfirmed", "confirmed", "Confirmed", "refuted", "Refuted",
		"entered-in-error", "Entered in Error")
	condClinicalCodes = codesOf(sysCondClinical, "active", "Active", "recurrence", "Recurrence", "relapse", "Relapse",
		"inactive", "Inactive", "remission", "Remission", "resolved", "Resolved")
	condVerifyCodes = codesOf(sysCondVerify, "unconfirmed", "Unconfirmed", "provisional", "Provisional", "differential", "Differential",
		"confirmed", "Confirmed", "refuted", "Refuted", "entered-in-error", "Entered in Error")
	condCategoryCodes = codesOf(sysCondCategory, "problem-list-item", "Problem List Item", "encounter-diagnosis", "Encounter Diagnosis")
	// severityCodes are SNOMED CT's severity qualifiers.
	severityCodes = map[string]Code{
		"mild": {sysSNOMED, "255604002", "Mild"}, "moderate": {sysSNOMED, "6736007", "Moderate"}, "severe": {sysSNOMED, "24484000", "Severe"},
	}
	goalAchievementCodes = codesOf(sysGoalAchievement, "in-progress", "In Progress", "improving", "Improving", "worsening", "Worsening",
		"no-change", "No Change", "achieved", "Achieved", "sustaining", "Sustaining", "not-achieved", "Not Achieved",
		"no-progress", "No Progress", "not-attainable", "Not Attainable")
	goalPriorityCodes = codesOf(sysGoalPriority, "high-priority", "High Priority", "medium-priority", "Medium Priority", "low-priority", "Low Priority")
	goalCategoryCodes = codesOf(sysGoalCategory, "dietary", "Dietary", "safety", "Safety", "behavioral", "Behavioral",
		"nursing", "Nursing", "physiotherapy", "Physiotherapy")
	doseStatusCodes = map[string]Code{
		"valid": {sysDoseStatus, "valid", "Valid"}, "notvalid": {sysDoseStatus, "notvalid", "Not valid"}, "not-valid": {sysDoseStatus, "notvalid", "Not valid"},
	}
	// vaccineNames are common vaccine abbreviations as CVX codes.
	vaccineNames = map[string]Code{
		"MMR": {sysCVX, "03", "measles, mumps and rubella virus vaccine"}, "DTaP": {sysCVX, "20", "diphtheria, tetanus toxoids and acellular pertussis vaccine"},
		"IPV": {sysCVX, "10", "poliovirus vaccine, inactivated"}, "Tdap": {sysCVX, "115", "tetanus toxoid, reduced diphtheria toxoid, and acellular pertussis vaccine, adsorbed"},
		"Td": {sysCVX, "139", "Td(adult) unspecified formulation"}, "Varicella": {sysCVX, "21", "varicella virus vaccine"},
	}
	forecastStatusCodes = codesOf(sysForecastStatus, "due", "Due", "overdue", "Overdue", "immune", "Immune",
		"contraindicated", "Contraindicated", "complete", "Complete")
	riskProbabilityCodes = codesOf(sysRiskProbability, "negligible", "Negligible likelihood", "low", "Low likelihood",
		"moderate", "Moderate likelihood", "high", "High likelihood", "certain", "Certain")
	medStmtCategoryCodes = codesOf(sysMedStmtCategory, "inpatient", "Inpatient", "outpatient", "Outpatient", "community", "Community",
		"patientspecified", "Patient Specified")
	mediaTypeCodes     = codesOf(sysMediaType, "image", "Image", "video", "Video", "audio", "Audio")
	visionProductCodes = codesOf(sysVisionProduct, "lens", "Lens", "contact", "Contact Lens")
	auditEntityTypes   = codesOf(sysAuditEntityType, "1", "Person", "2", "System Object", "3", "Organization", "4", "Other")
	auditObjectRoles   = codesOf(sysAuditObjectRole, "1", "Patient", "2", "Location", "3", "Report", "4", "Domain Resource",
		"5", "Master file", "6", "User", "7", "List", "8", "Doctor", "9", "Subscriber", "10", "Guarantor",
		"11", "Security User Entity", "12", "Security User Group", "13", "Security Resource", "14", "Security Granularity Definition",
		"15", "Practitioner", "16", "Data Destination", "17", "Data Repository", "18", "Schedule", "19", "Customer",
		"20", "Job", "21", "Job Stream", "22", "Table", "23", "Routing Criteria", "24", "Query")
	auditTypeCodes     = codesOf(sysAuditType, "rest", "RESTful Operation", "access", "Access/View Record Lifecycle Event")
	restfulCodes       = codesOf(sysRestful, "read", "read", "vread", "vread", "update", "update", "patch", "patch", "delete", "delete", "history", "history", "create", "create", "search", "search")
	taskCodes          = codesOf(sysTaskCode, "approve", "Activate/approve the focal resource", "fulfill", "Fulfill the focal request", "abort", "Mark the focal resource as no longer active", "replace", "Replace the focal resource with the input resource", "change", "Change the focal resource", "suspend", "Suspend the focal resource", "resume", "Re-activate the focal resource")
	genderCodes        = codesOf(sysGender, "male", "Male", "female", "Female", "other", "Other", "unknown", "Unknown")
	dicomModalities    = codesOf(sysDICOM, "CT", "Computed Tomography", "MR", "Magnetic Resonance", "US", "Ultrasound", "CR", "Computed Radiography", "DX", "Digital Radiography", "MG", "Mammography", "NM", "Nuclear Medicine", "PT", "Positron emission tomography", "XA", "X-Ray Angiography", "OT", "Other")
	careTeamCategories = map[string]Code{
		"event-based": {sysLOINC, "LA27975-4", "Event-focused care team"}, "encounter-based": {sysLOINC, "LA27976-2", "Encounter-focused care team"},
		"episode-of-care": {sysLOINC, "LA27977-0", "Episode of care-focused care team"}, "longitudinal-care": {sysLOINC, "LA28865-6", "Longitudinal care-coordination focused care team"},
		"condition-focused": {sysLOINC, "LA28866-4", "Condition-focused care team"}, "clinical-research": {sysLOINC, "LA28867-2", "Clinical research-focused care team"},
	}
	// serviceCategories are SNOMED CT's service request categories.
	serviceCategories = map[string]Code{
		"laboratory": {sysSNOMED, "108252007", "Laboratory procedure"}, "imaging": {sysSNOMED, "363679005", "Imaging"},
		"counselling": {sysSNOMED, "409063005", "Counselling"}, "education": {sysSNOMED, "409073007", "Education"},
		"surgical-procedure": {sysSNOMED, "387713003", "Surgical procedure"},
	}
	// specimenTypes are HL7 v2 table 0487 specimen types.
	specimenTypes = map[string]Code{
		"blood": {sysV2Specimen, "BLD", "Whole blood"}, "BLD": {sysV2Specimen, "BLD", "Whole blood"},
		"serum": {sysV2Specimen, "SER", "Serum"}, "SER": {sysV2Specimen, "SER", "Serum"},
		"plasma": {sysV2Specimen, "PLAS", "Plasma"}, "PLAS": {sysV2Specimen, "PLAS", "Plasma"},
		"urine": {sysV2Specimen, "UR", "Urine"}, "UR": {sysV2Specimen, "UR", "Urine"},
		"csf": {sysV2Specimen, "CSF", "Cerebral spinal fluid"}, "CSF": {sysV2Specimen, "CSF", "Cerebral spinal fluid"},
		"sputum": {sysV2Specimen, "SPT", "Sputum"}, "SPT": {sysV2Specimen, "SPT", "Sputum"},
	}
	// diseaseCodes are SNOMED CT codes of vaccine-preventable diseases.
	diseaseCodes = map[string]Code{
		"COVID-19":  {sysSNOMED, "840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2"},
		"Influenza": {sysSNOMED, "6142004", "Influenza"}, "Measles": {sysSNOMED, "14189004", "Measles"},
		"Mumps": {sysSNOMED, "36989005", "Mumps"}, "Rubella": {sysSNOMED, "36653000", "Rubella"},
		"Hepatitis B": {sysSNOMED, "66071002", "Viral hepatitis type B"}, "Tetanus": {sysSNOMED, "76902006", "Tetanus"},
		"Diphtheria": {sysSNOMED, "397430003", "Diphtheria caused by Corynebacterium diphtheriae"},
		"Pertussis":  {sysSNOMED, "27836007", "Pertussis"}, "Varicella": {sysSNOMED, "38907003", "Varicella"},
	}
	doseFormCodes = map[string]Code{
		"tablet": {sysSNOMED, "385055001", "Tablet"}, "capsule": {sysSNOMED, "385049006", "Capsule"},
	}
	// familyRoles are HL7 v3 RoleCode family members.
	familyRoles = map[string]Code{
		"mother": {sysV3RoleCode, "MTH", "mother"}, "father": {sysV3RoleCode, "FTH", "father"}, "parent": {sysV3RoleCode, "PRN", "parent"},
		"sibling": {sysV3RoleCode, "SIB", "sibling"}, "brother": {sysV3RoleCode, "BRO", "brother"}, "sister": {sysV3RoleCode, "SIS", "sister"},
		"son": {sysV3RoleCode, "SON", "natural son"}, "daughter": {sysV3RoleCode, "DAU", "natural daughter"}, "child": {sysV3RoleCode, "CHILD", "child"},
		"grandmother": {sysV3RoleCode, "GRMTH", "grandmother"}, "grandfather": {sysV3RoleCode, "GRFTH", "grandfather"},
		"grandparent": {sysV3RoleCode, "GRPRN", "grandparent"}, "aunt": {sysV3RoleCode, "AUNT", "aunt"}, "uncle": {sysV3RoleCode, "UNCLE", "uncle"},
		"cousin": {sysV3RoleCode, "COUSN", "cousin"}, "spouse": {sysV3RoleCode, "SPS", "spouse"},
		"maternal grandmother": {sysV3RoleCode, "MGRMTH", "maternal grandmother"}, "maternal grandfather": {sysV3RoleCode, "MGRFTH", "maternal grandfather"},
		"paternal grandmother": {sysV3RoleCode, "PGRMTH", "paternal grandmother"}, "paternal grandfather": {sysV3RoleCode, "PGRFTH", "paternal grandfather"},
		"maternal aunt": {sysV3RoleCode, "MAUNT", "maternal aunt"}, "maternal uncle": {sysV3RoleCode, "MUNCLE", "maternal uncle"},
		"paternal aunt": {sysV3RoleCode, "PAUNT", "paternal aunt"}, "paternal uncle": {sysV3RoleCode, "PUNCLE", "paternal uncle"},
		"MTH": {sysV3RoleCode, "MTH", "mother"}, "FTH": {sysV3RoleCode, "FTH", "father"}, "SIB": {sysV3RoleCode, "SIB", "sibling"},
		"BRO": {sysV3RoleCode, "BRO", "brother"}, "SIS": {sysV3RoleCode, "SIS", "sister"},
	}
)

// anyResource are the targets of references the contract lets point to
// any resource: a bare id refers to the type its prefix names, else to the
// first; "Type/id" names any of them.
var anyResource = []string{
	"ServiceRequest", "Patient", "Practitioner", "PractitionerRole", "Organization", "Encounter", "Observation", "Condition",
	"Procedure", "MedicationRequest", "MedicationStatement", "MedicationDispense", "Medication", "Immunization",
	"ImmunizationRecommendation", "AllergyIntolerance", "DiagnosticReport", "DocumentReference", "Composition",
	"QuestionnaireResponse", "ClinicalImpression", "CarePlan", "CareTeam", "Goal", "Appointment", "Consent", "Task",
	"DeviceRequest", "Device", "NutritionOrder", "VisionPrescription", "RiskAssessment", "FamilyMemberHistory",
	"ImagingStudy", "Media", "Specimen", "Claim", "Coverage", "Location", "RelatedPerson", "Group",
}

var requesters = []string{"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"}

// localCoded is a CodeableConcept (or list) whose known words are codes of
// standard systems and whose other strings are codes of a ClinikAPI
// system, so that every value is searchable as a token.
func localCoded(name, path string, kind Kind, codes map[string]Code, system string) Field {
	return Field{Name: name, Path: path, Kind: kind, Codes: codes, System: system}
}

func token(name, code string, codes map[string]Code, system string) Param {
	return Param{Name: name, Code: code, Kind: Token, Codes: codes, System: system}
}

// Tasks: Task.
var Tasks = override("tasks", func(d *Def) {
	d.set(
		localCoded("code", "code", Concept, taskCodes, sysLocalTaskCode),
		ref("focusId", "focus", anyResource...),
		ref("patientId", "for", "Patient", "Group"),
		refs("basedOn", "basedOn", anyResource...),
	)
	d.edit("requesterId").Targets = requesters
	d.edit("ownerId").Targets = []string{"Practitioner", "PractitionerRole", "Organization", "CareTeam", "HealthcareService", "Patient", "Device", "RelatedPerson"}
	d.edit("authoredOn").Default = Now
	d.setParam(
		Param{Name: "requesterId", Code: "requester", Kind: RefParam, Target: "Practitioner"},
		token("code", "code", taskCodes, sysLocalTaskCode),
		Param{Name: "dateFrom", Code: "authored-on", Kind: From},
		Param{Name: "dateTo", Code: "authored-on", Kind: To},
	)
	d.Sorts["date"] = "authored-on"
})

// ServiceRequests: ServiceRequest.
var ServiceRequests = override("service-requests", func(d *Def) {
	d.set(localCoded("category", "category", Concepts, serviceCategories, sysLocalSRCategory))
	d.edit("requesterId").Targets = requesters
	d.setParam(
		token("category", "category", serviceCategories, sysLocalSRCategory),
		Param{Name: "dateFrom", Code: "authored", Kind: From},
		Param{Name: "dateTo", Code: "authored", Kind: To},
	)
	d.edit("authoredOn").Default = Now
	d.Sorts["date"] = "authored"
})

// FamilyHistory: FamilyMemberHistory.
var FamilyHistory = override("family-history", func(d *Def) {
	d.set(
		coded("relationship", "relationship", familyRoles),
		coded("sex", "sex", genderCodes),
	)
	d.setParam(token("relationship", "relationship", familyRoles, ""))
})

// CarePlans: CarePlan. An activity's own fields are its detail's.
var CarePlans = override("care-plans", func(d *Def) {
	d.set(localCoded("category", "category", Concepts, nil, sysLocalCarePlanCat))
	d.edit("activity").set(
		val("description", "detail.description"),
		val("status", "detail.status"),
		text("code", "detail.code"),
		val("scheduledString", "detail.scheduledString"),
		ref("performerId", "detail.performer[0]", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson", "Patient", "CareTeam", "HealthcareService", "Device"),
	)
	d.edit("created").Default = Now
	d.setParam(
		token("category", "category", nil, sysLocalCarePlanCat),
		Param{Name: "authorId", Code: "author", Kind: RefParam, Target: "Practitioner"},
	)
})

// Immunizations: Immunization.
var Immunizations = override("immunizations", func(d *Def) {
	d.set(Field{Name: "vaccineCode", Path: "vaccineCode", Kind: Concept, Codes: vaccineNames, System: sysCVX, CodeIf: cvxCode})
	// A manufacturer's name, or the id of its Organization.
	d.edit("manufacturer").Loose = true
	d.edit("occurrenceDateTime").Default = Now
	d.setParam(token("vaccineCode", "vaccine-code", vaccineNames, ""))
})

// Allergies: AllergyIntolerance.
var Allergies = override("allergies", func(d *Def) {
	d.set(
		coded("clinicalStatus", "clinicalStatus", allergyClinicalCodes),
		coded("verificationStatus", "verificationStatus", allergyVerifyCodes),
	)
	d.setParam(token("clinicalStatus", "clinical-status", allergyClinicalCodes, ""))
})

// CareTeams: CareTeam.
var CareTeams = override("care-teams", func(d *Def) {
	d.set(
		localCoded("category", "category", Concepts, careTeamCategories, sysLocalCareTeamCat),
		telecom("phone", "phone"),
		telecom("email", "email"),
	)
	d.edit("participant.memberId").Targets = []string{"Practitioner", "PractitionerRole", "RelatedPerson", "Patient", "Organization", "CareTeam"}
	d.setParam(token("category", "category", careTeamCategories, sysLocalCareTeamCat))
})

// Conditions: Condition.
var Conditions = override("conditions", func(d *Def) {
	d.set(
		coded("clinicalStatus", "clinicalStatus", condClinicalCodes),
		coded("verificationStatus", "verificationStatus", condVerifyCodes),
		coded("category", "category", condCategoryCodes),
		coded("severity", "severity", severityCodes),
	)
	d.edit("category").Kind = Concepts
	d.edit("evidence").set(refs("detailIds", "detail", anyResource...))
	d.setParam(
		token("clinicalStatus", "clinical-status", condClinicalCodes, ""),
		token("verificationStatus", "verification-status", condVerifyCodes, ""),
		token("category", "category", condCategoryCodes, ""),
		token("severity", "severity", severityCodes, ""),
	)
})

// Devices: Device.
var Devices = override("devices", func(d *Def) {
	// R4's deviceName is a list of names with their type.
	d.set(
		val("deviceName", "deviceName[type=user-friendly-name].name"),
		localCoded("type", "type", Concept, nil, sysLocalDeviceType),
	)
	d.setParam(
		token("type", "type", nil, sysLocalDeviceType),
		Param{Name: "modelNumber", Code: "model"},
	)
})

// DeviceRequests: DeviceRequest.
var DeviceRequests = override("device-requests", func(d *Def) {
	d.set(refs("basedOn", "basedOn", anyResource...))
	d.edit("authoredOn").Default = Now
})

// DeviceUseStatements: DeviceUseStatement.
var DeviceUseStatements = override("device-use-statements", func(d *Def) {
	d.setParam(Param{Name: "status", Code: "status"})
})

// Goals: Goal.
var Goals = override("goals", func(d *Def) {
	d.set(
		coded("achievementStatus", "achievementStatus", goalAchievementCodes),
		localCoded("category", "category", Concepts, goalCategoryCodes, sysLocalGoalCat),
		coded("priority", "priority", goalPriorityCodes),
	)
	d.edit("target.measure").System = sysLOINC
	d.edit("target.measure").CodeIf = loincCode
	d.setParam(
		token("achievementStatus", "achievement-status", goalAchievementCodes, ""),
		token("category", "category", goalCategoryCodes, sysLocalGoalCat),
	)
})

// MedicationDispenses: MedicationDispense.
var MedicationDispenses = override("medication-dispenses", func(d *Def) {
	d.set(
		ref("encounterId", "context", "Encounter", "EpisodeOfCare"),
		Field{Name: "daysSupply", Path: "daysSupply", Kind: Quantity, Unit: "d"},
		val("dosageText", "dosageInstruction[0].text"),
	)
	d.edit("performer.actorId").Targets = []string{"Practitioner", "PractitionerRole", "Organization", "Patient", "Device", "RelatedPerson"}
	// The medication's code (R4's medication parameter is the reference).
	d.setParam(Param{Name: "medication", Code: "code"})
})

// MedicationKnowledge: MedicationKnowledge.
var MedicationKnowledge = override("medication-knowledge", func(d *Def) {
	d.set(localCoded("doseForm", "doseForm", Concept, doseFormCodes, sysLocalDoseForm))
	d.edit("status").Default = "active"
	// A manufacturer's name, or the id of its Organization.
	d.edit("manufacturer").Loose = true
	d.setParam(
		token("doseForm", "doseform", doseFormCodes, sysLocalDoseForm),
		Param{Name: "manufacturer", Code: "manufacturer", Kind: RefParam, Target: "Organization"},
	)
})

// MedicationStatements: MedicationStatement.
var MedicationStatements = override("medication-statements", func(d *Def) {
	d.set(
		ref("encounterId", "context", "Encounter", "EpisodeOfCare"),
		coded("category", "category", medStmtCategoryCodes),
		val("dosageText", "dosage[0].text"),
	)
	d.setParam(
		Param{Name: "medication", Code: "code"},
		token("category", "category", medStmtCategoryCodes, ""),
	)
})

// Specimens: Specimen.
var Specimens = override("specimens", func(d *Def) {
	d.set(localCoded("type", "type", Concept, specimenTypes, sysLocalSpecimen))
	d.setParam(token("type", "type", specimenTypes, sysLocalSpecimen))
})

// ImagingStudies: ImagingStudy.
var ImagingStudies = override("imaging-studies", func(d *Def) {
	d.set(Field{Name: "modality", Path: "modality", Kind: Codings, System: sysDICOM, Codes: dicomModalities})
	d.edit("series.modality").System = sysDICOM
	d.edit("series.modality").Codes = dicomModalities
	d.setParam(token("modality", "modality", dicomModalities, sysDICOM))
})

// ImmunizationEvaluations: ImmunizationEvaluation.
var ImmunizationEvaluations = override("immunization-evaluations", func(d *Def) {
	d.set(
		localCoded("targetDisease", "targetDisease", Concept, diseaseCodes, sysLocalDisease),
		coded("doseStatus", "doseStatus", doseStatusCodes),
	)
	d.setParam(token("targetDisease", "target-disease", diseaseCodes, sysLocalDisease))
})

// Media: Media.
var Media = override("media", func(d *Def) {
	d.set(
		coded("type", "type", mediaTypeCodes),
		// DICOM modality codes, else codes of ClinikAPI's media-modality.
		localCoded("modality", "modality", Concept, dicomModalities, sysLocalMediaMod),
	)
	d.edit("deviceId").Targets = []string{"Device", "DeviceMetric"}
	d.setParam(
		token("type", "type", mediaTypeCodes, ""),
		token("modality", "modality", dicomModalities, sysLocalMediaMod),
	)
})

// NutritionOrders: NutritionOrder.
var NutritionOrders = override("nutrition-orders", func(d *Def) {
	d.edit("enteralFormula").set(text("routeOfAdministration", "routeofAdministration"))
	d.edit("dateTime").Default = Now
})

// VisionPrescriptions: VisionPrescription.
var VisionPrescriptions = override("vision-prescriptions", func(d *Def) {
	d.edit("lensSpecification.product").Codes = visionProductCodes
	d.edit("created").Default = Now
})

// RiskAssessments: RiskAssessment.
var RiskAssessments = override("risk-assessments", func(d *Def) {
	d.set(
		localCoded("method", "method", Concept, nil, sysLocalRiskMethod),
		ref("basedOnId", "basedOn", anyResource...),
	)
	d.edit("prediction.qualitativeRisk").Codes = riskProbabilityCodes
	d.edit("performerId").Targets = []string{"Practitioner", "PractitionerRole", "Device"}
	d.setParam(
		Param{Name: "status", Code: "status"},
		token("method", "method", nil, sysLocalRiskMethod),
	)
})

// AuditEvents: AuditEvent. Agents and observers are ids, or names kept
// as the reference's display.
var AuditEvents = override("audit-events", func(d *Def) {
	d.set(
		Field{Name: "type", Path: "type", Kind: Coding, Codes: auditTypeCodes, System: sysLocalAuditType},
		Field{Name: "subtype", Path: "subtype", Kind: Codings, Codes: restfulCodes, System: sysLocalAuditSub},
	)
	a := d.edit("agent")
	a.set(val("networkAddress", "network.address"))
	a.edit("who").Loose = true
	a.edit("who").Targets = []string{"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Organization", "Device"}
	d.edit("source.observer").Loose = true
	d.edit("source.observer").Targets = []string{"Device", "Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson"}
	e := d.edit("entity")
	e.set(Field{Name: "what", Path: "what", Kind: Ref, Targets: anyResource, Loose: true})
	e.edit("type").Codes = auditEntityTypes
	e.edit("role").Codes = auditObjectRoles
})

// ImmunizationRecommendations: ImmunizationRecommendation.
var ImmunizationRecommendations = override("immunization-recommendations", func(d *Def) {
	r := d.edit("recommendation")
	r.edit("vaccineCode").System = sysCVX
	r.edit("vaccineCode").CodeIf = cvxCode
	r.edit("vaccineCode").Codes = vaccineNames
	r.set(localCoded("targetDisease", "targetDisease", Concept, diseaseCodes, sysLocalDisease))
	r.edit("forecastStatus").Codes = forecastStatusCodes
	d.setParam(
		token("vaccineCode", "vaccine-type", vaccineNames, ""),
		token("targetDisease", "target-disease", diseaseCodes, sysLocalDisease),
	)
})
