// The SDK suite's cycles of the clinical resources beyond the core ones (conditions, allergies, immunizations, care plans, …): entries of the same shape as
// coreCycles in sdk_suite.mjs. Search parameters are those of the SDK's
// search type for the namespace (src/types/requests.ts); values after the
// update where it changes them.
const note = { simple: 'note', fhirPath: 'note[0].text', fhir: (r) => r.note?.[0]?.text };
const status = (want) => ({ body: { status: want }, want, simple: 'status', fhirPath: 'status', fhir: (r) => r.status });
const noteUpdate = (want) => ({ body: { note: want }, want, ...note });

export const cycles = [
  {
    ns: 'allergies', example: 'allergies', type: 'AllergyIntolerance', create: 'create', text: note,
    update: { body: { clinicalStatus: 'resolved' }, want: 'resolved', simple: 'clinicalStatus', fhirPath: 'clinicalStatus.coding[0].code',
      fhir: (r) => r.clinicalStatus?.coding?.[0]?.code },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, clinicalStatus: 'resolved', type: 'allergy', category: 'medication', criticality: 'high', code: '7980' }), // AllergyIntoleranceSearchParams
  },
  {
    ns: 'conditions', example: 'conditions', type: 'Condition', create: 'create', text: note,
    update: { body: { clinicalStatus: 'remission' }, want: 'remission', simple: 'clinicalStatus', fhirPath: 'clinicalStatus.coding[0].code',
      fhir: (r) => r.clinicalStatus?.coding?.[0]?.code },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, clinicalStatus: 'remission', verificationStatus: 'confirmed', category: 'problem-list-item', severity: 'moderate', code: 'E11.9' }), // ConditionSearchParams
  },
  {
    ns: 'immunizations', example: 'immunizations', type: 'Immunization', create: 'create', text: note,
    update: { body: { lotNumber: 'FK5130' }, want: 'FK5130', simple: 'lotNumber', fhirPath: 'lotNumber', fhir: (r) => r.lotNumber },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', vaccineCode: '208', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // ImmunizationSearchParams
  },
  {
    ns: 'immunizationEvaluations', example: 'immunization-evaluations', type: 'ImmunizationEvaluation', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { description: 'Given too early.' }, want: 'Given too early.', simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', immunizationEventId: 'imm-covid3', targetDisease: 'COVID-19' }), // ImmunizationEvaluationSearchParams
  },
  {
    ns: 'immunizationRecommendations', example: 'immunization-recommendations', type: 'ImmunizationRecommendation', create: 'create',
    text: { simple: 'recommendation', fhirPath: 'recommendation[0].description', fhir: (r) => r.recommendation?.[0]?.description,
      simplified: (r) => r.recommendation?.[0]?.description, sent: (b) => b.recommendation[0].description },
    // The contract (and the SDK) have no update: recommendations are replaced by new ones.
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, vaccineCode: '141', targetDisease: 'Influenza', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // ImmunizationRecommendationSearchParams
  },
  {
    ns: 'carePlans', example: 'care-plans', type: 'CarePlan', create: 'create',
    text: { simple: 'title', fhirPath: 'title', fhir: (r) => r.title },
    update: status('on-hold'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'on-hold', category: 'diabetes-management', authorId: f.practitioner }), // CarePlanSearchParams
  },
  {
    ns: 'careTeams', example: 'care-teams', type: 'CareTeam', create: 'create',
    text: { simple: 'name', fhirPath: 'name', fhir: (r) => r.name },
    update: status('inactive'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'inactive', category: 'longitudinal-care' }), // CareTeamSearchParams
  },
  {
    ns: 'goals', example: 'goals', type: 'Goal', create: 'create',
    text: { simple: 'statusReason', fhirPath: 'statusReason', fhir: (r) => r.statusReason },
    update: { body: { achievementStatus: 'achieved' }, want: 'achieved', simple: 'achievementStatus', fhirPath: 'achievementStatus.coding[0].code',
      fhir: (r) => r.achievementStatus?.coding?.[0]?.code },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, lifecycleStatus: 'active', achievementStatus: 'achieved', category: 'dietary' }), // GoalSearchParams
  },
  {
    ns: 'familyHistory', example: 'family-history', type: 'FamilyMemberHistory', create: 'create',
    text: { simple: 'name', fhirPath: 'name', fhir: (r) => r.name },
    update: noteUpdate('Mother also has hypertension.'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', relationship: 'mother', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // FamilyMemberHistorySearchParams
  },
  {
    ns: 'serviceRequests', example: 'service-requests', type: 'ServiceRequest', create: 'create',
    text: { simple: 'patientInstruction', fhirPath: 'patientInstruction', fhir: (r) => r.patientInstruction },
    update: { body: { priority: 'urgent' }, want: 'urgent', simple: 'priority', fhirPath: 'priority', fhir: (r) => r.priority },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'active', priority: 'urgent', category: 'laboratory', requesterId: f.practitioner, performerId: f.practitioner, code: '4548-4' }), // ServiceRequestSearchParams
  },
  {
    ns: 'specimens', example: 'specimens', type: 'Specimen', create: 'create', text: note,
    update: status('unsatisfactory'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'unsatisfactory', type: 'blood', dateFrom: '2026-12-01', dateTo: '2026-12-01' }), // SpecimenSearchParams
  },
  {
    ns: 'imagingStudies', example: 'imaging-studies', type: 'ImagingStudy', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: noteUpdate('Small nodule in the right upper lobe.'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'available', modality: 'CT', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // ImagingStudySearchParams
  },
  {
    ns: 'media', example: 'media', type: 'Media', create: 'create',
    text: { simple: 'deviceName', fhirPath: 'deviceName', fhir: (r) => r.deviceName },
    update: noteUpdate('Reviewed: benign.'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', type: 'image', modality: 'Dermatoscope', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // MediaSearchParams
  },
  {
    ns: 'medicationStatements', example: 'medication-statements', type: 'MedicationStatement', create: 'create',
    text: { simple: 'dosageText', fhirPath: 'dosage[0].text', fhir: (r) => r.dosage?.[0]?.text },
    update: status('stopped'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'stopped', medication: '860975', category: 'community' }), // MedicationStatementSearchParams
  },
  {
    ns: 'medicationDispenses', example: 'medication-dispenses', type: 'MedicationDispense', create: 'create',
    text: { simple: 'dosageText', fhirPath: 'dosageInstruction[0].text', fhir: (r) => r.dosageInstruction?.[0]?.text },
    update: noteUpdate('Patient picked up in person.'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', medication: '860975' }), // MedicationDispenseSearchParams
  },
  {
    ns: 'medicationKnowledge', example: 'medication-knowledge', type: 'MedicationKnowledge', create: 'create',
    text: { simple: 'preparationInstruction', fhirPath: 'preparationInstruction', fhir: (r) => r.preparationInstruction },
    update: status('inactive'),
    search: () => ({ code: '861007' }),
    params: () => ({ code: '861007', status: 'inactive', doseForm: 'tablet', manufacturer: 'org-teva1' }), // MedicationKnowledgeSearchParams
  },
  {
    ns: 'riskAssessments', example: 'risk-assessments', type: 'RiskAssessment', create: 'create',
    text: { simple: 'mitigation', fhirPath: 'mitigation', fhir: (r) => r.mitigation },
    update: status('amended'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'amended', method: 'ASCVD-risk-calculator', conditionId: 'cnd-diabetes1' }), // RiskAssessmentSearchParams
  },
  {
    ns: 'nutritionOrders', example: 'nutrition-orders', type: 'NutritionOrder', create: 'create', text: note,
    update: status('completed'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // NutritionOrderSearchParams
  },
  {
    ns: 'visionPrescriptions', example: 'vision-prescriptions', type: 'VisionPrescription', create: 'create',
    text: { simple: 'lensSpecification', fhirPath: 'lensSpecification[0].note[0].text', fhir: (r) => r.lensSpecification?.[0]?.note?.[0]?.text,
      simplified: (r) => r.lensSpecification?.[0]?.note, sent: (b) => b.lensSpecification[0].note },
    update: status('cancelled'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'cancelled', prescriberId: f.practitioner, dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // VisionPrescriptionSearchParams
  },
  {
    ns: 'deviceRequests', example: 'device-requests', type: 'DeviceRequest', create: 'create', text: note,
    update: status('completed'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', intent: 'order', code: '337414009' }), // DeviceRequestSearchParams
  },
  {
    ns: 'deviceUseStatements', example: 'device-use-statements', type: 'DeviceUseStatement', create: 'create', text: note,
    update: status('completed'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'completed', deviceId: 'dev-glucometer1' }), // DeviceUseStatementSearchParams
  },
  {
    ns: 'devices', example: 'devices', type: 'Device', create: 'create',
    text: { simple: 'deviceName', fhirPath: 'deviceName[0].name', fhir: (r) => r.deviceName?.[0]?.name },
    update: status('inactive'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'inactive', type: 'glucose-meter', manufacturer: 'Roche', modelNumber: 'AG-2026' }), // DeviceSearchParams
  },
  {
    ns: 'tasks', example: 'tasks', type: 'Task', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: status('in-progress'),
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, ownerId: f.practitioner, requesterId: f.practitioner, status: 'in-progress', priority: 'routine', code: 'fulfill' }), // TaskSearchParams
  },
  {
    ns: 'auditEvents', example: 'audit-events', type: 'AuditEvent', create: 'create',
    text: { simple: 'outcomeDesc', fhirPath: 'outcomeDesc', fhir: (r) => r.outcomeDesc },
    // Audit events are immutable: the contract (and the SDK) have no update.
    search: () => ({ action: 'R', dateFrom: '2026-11-20', dateTo: '2026-11-20' }),
    params: (f) => ({ action: 'R', outcome: '0', agent: f.practitioner, dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // AuditEventSearchParams
  },
];

// The FHIR types of these resources that patients.read(id, {include})
// asks for, and the field of the SDK's PatientReadResponse each lands in.
// SDK 0.3.1's PatientReadResponse has fields for the core types only, so
// none of these lands anywhere there (web/resources_clinical_test.go
// checks the Bundle holds them).
export const includeBuckets = {};

// fixtures makes, through the SDK, what these examples refer to besides
// the patient, practitioner and encounter (fixtures.patient, …), and
// returns them by name: {<name>Id} in an example is fixtures[<name>].
// fx(what, call) runs one create and returns the new id.
export async function fixtures(clinik, fx, made) {
  return {};
}
