// The SDK suite's cycles of the administrative, scheduling, financial and quality resources (organizations, locations, schedules, slots, claims, …): entries of the same shape as
// coreCycles in sdk_suite.mjs.

const byTelecom = (system) => (r) => r.telecom?.find((t) => t.system === system)?.value;
const ext = (name) => (r) => r.extension?.find((e) => e.url?.endsWith(`/${name}`))?.valueString;

export const cycles = [
  {
    ns: 'organizations', example: 'organizations', type: 'Organization', create: 'create',
    text: { simple: 'name', fhirPath: 'name', fhir: (r) => r.name },
    update: { body: { phone: '+1-555-0199' }, want: '+1-555-0199', simple: 'phone', fhirPath: 'telecom[system=phone].value', fhir: byTelecom('phone') },
    search: () => ({ name: 'riverside fam' }),
    params: () => ({ name: 'riverside fam', type: 'provider', active: true }), // OrganizationSearchParams
  },
  {
    ns: 'locations', example: 'locations', type: 'Location', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { status: 'suspended' }, want: 'suspended', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: () => ({ name: 'cardiology clinic' }),
    params: () => ({ name: 'cardiology clinic', status: 'suspended', type: 'CARD', address: 'Portland' }), // LocationSearchParams
  },
  {
    ns: 'healthcareServices', example: 'healthcare-services', type: 'HealthcareService', create: 'create',
    text: { simple: 'comment', fhirPath: 'comment', fhir: (r) => r.comment },
    update: { body: { availabilityExceptions: 'No sessions in the first week of January' }, want: 'No sessions in the first week of January',
      simple: 'availabilityExceptions', fhirPath: 'availabilityExceptions', fhir: (r) => r.availabilityExceptions },
    search: () => ({ name: 'cardiac rehab' }),
    params: () => ({ name: 'cardiac rehab', type: 'Cardiac rehabilitation', specialty: 'Cardiology', active: true }), // HealthcareServiceSearchParams
  },
  {
    ns: 'schedules', example: 'schedules', type: 'Schedule', create: 'create',
    text: { simple: 'comment', fhirPath: 'comment', fhir: (r) => r.comment },
    update: { body: { comment: 'Dr. Marquez, mornings and Thursday afternoons' }, want: 'Dr. Marquez, mornings and Thursday afternoons',
      simple: 'comment', fhirPath: 'comment', fhir: (r) => r.comment },
    search: (f) => ({ actorId: f.practitioner }),
    params: (f) => ({ actorId: f.practitioner, serviceType: 'General consultation', specialty: 'Family Medicine', active: true,
      dateFrom: '2026-12-01', dateTo: '2026-12-31' }), // ScheduleSearchParams
  },
  {
    ns: 'slots', example: 'slots', type: 'Slot', create: 'create',
    text: { simple: 'comment', fhirPath: 'comment', fhir: (r) => r.comment },
    update: { body: { status: 'busy' }, want: 'busy', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ scheduleId: f.schedule, status: 'busy', dateFrom: '2026-12-07', dateTo: '2026-12-11' }),
    params: (f) => ({ scheduleId: f.schedule, status: 'busy', serviceType: 'General consultation', specialty: 'Family Medicine',
      dateFrom: '2026-12-07', dateTo: '2026-12-07' }), // SlotSearchParams
  },
  {
    ns: 'appointmentResponses', example: 'appointment-responses', type: 'AppointmentResponse', create: 'create',
    text: { simple: 'comment', fhirPath: 'comment', fhir: (r) => r.comment },
    update: { body: { participantStatus: 'accepted' }, want: 'accepted', simple: 'participantStatus', fhirPath: 'participantStatus', fhir: (r) => r.participantStatus },
    search: (f) => ({ appointmentId: f.appointment }),
    params: (f) => ({ appointmentId: f.appointment, actorId: f.practitioner, participantStatus: 'accepted' }), // AppointmentResponseSearchParams
  },
  {
    ns: 'persons', example: 'persons', type: 'Person', create: 'create',
    text: { simple: 'lastName', fhirPath: 'name[0].family', fhir: (r) => r.name?.[0]?.family },
    update: { body: { phone: '+1-555-0177' }, want: '+1-555-0177', simple: 'phone', fhirPath: 'telecom[system=phone].value', fhir: byTelecom('phone') },
    search: () => ({ name: 'okaf' }),
    params: () => ({ name: 'okaf', email: 'amara.okafor@example.com', phone: '+1-555-0177', active: true }), // PersonSearchParams
  },
  {
    ns: 'accounts', example: 'accounts', type: 'Account', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { status: 'on-hold' }, want: 'on-hold', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'on-hold', type: 'patient', ownerId: f.organization }), // AccountSearchParams
  },
  {
    ns: 'coverages', example: 'coverages', type: 'Coverage', create: 'create',
    text: { simple: 'network', fhirPath: 'network', fhir: (r) => r.network },
    update: { body: { dependent: '02' }, want: '02', simple: 'dependent', fhirPath: 'dependent', fhir: (r) => r.dependent },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'active', type: 'medical', payorId: f.organization }), // CoverageSearchParams
  },
  {
    ns: 'claims', example: 'claims', type: 'Claim', create: 'create',
    text: { simple: 'note', fhirPath: 'supportingInfo[category=info].valueString',
      fhir: (r) => r.supportingInfo?.find((s) => s.category?.coding?.[0]?.code === 'info')?.valueString },
    update: { body: { status: 'cancelled' }, want: 'cancelled', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'cancelled', use: 'claim', providerId: f.practitioner, dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // ClaimSearchParams
  },
  {
    ns: 'claimResponses', example: 'claim-responses', type: 'ClaimResponse', create: 'create',
    text: { simple: 'note', fhirPath: 'extension[note].valueString', fhir: ext('note') },
    update: { body: { disposition: 'Claim settled; copay applies' }, want: 'Claim settled; copay applies',
      simple: 'disposition', fhirPath: 'disposition', fhir: (r) => r.disposition },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'active', use: 'claim', outcome: 'complete', requestId: f.claim }), // ClaimResponseSearchParams
  },
  {
    ns: 'eobs', example: 'eobs', type: 'ExplanationOfBenefit', create: 'create',
    text: { simple: 'disposition', fhirPath: 'disposition', fhir: (r) => r.disposition },
    update: { body: { outcome: 'partial' }, want: 'partial', simple: 'outcome', fhirPath: 'outcome', fhir: (r) => r.outcome },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'active', use: 'claim', outcome: 'partial', claimId: f.claim }), // EOBSearchParams
  },
  {
    ns: 'invoices', example: 'invoices', type: 'Invoice', create: 'create',
    text: { simple: 'paymentTerms', fhirPath: 'paymentTerms', fhir: (r) => r.paymentTerms },
    update: { body: { status: 'balanced' }, want: 'balanced', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'balanced', dateFrom: '2026-11-21', dateTo: '2026-11-21', issuerId: f.organization }), // InvoiceSearchParams
  },
  {
    ns: 'chargeItems', example: 'charge-items', type: 'ChargeItem', create: 'create',
    text: { simple: 'overrideReason', fhirPath: 'overrideReason', fhir: (r) => r.overrideReason },
    update: { body: { status: 'billed' }, want: 'billed', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'billed', code: '93000', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // ChargeItemSearchParams
  },
  {
    ns: 'paymentNotices', example: 'payment-notices', type: 'PaymentNotice', create: 'create',
    text: { simple: 'paymentDate', fhirPath: 'paymentDate', fhir: (r) => r.paymentDate },
    update: { body: { status: 'cancelled' }, want: 'cancelled', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ providerId: f.practitioner }),
    params: (f) => ({ status: 'cancelled', dateFrom: '2026-11-30', dateTo: '2026-11-30', providerId: f.practitioner }), // PaymentNoticeSearchParams
  },
  {
    ns: 'paymentReconciliations', example: 'payment-reconciliations', type: 'PaymentReconciliation', create: 'create',
    text: { simple: 'disposition', fhirPath: 'disposition', fhir: (r) => r.disposition },
    update: { body: { outcome: 'partial' }, want: 'partial', simple: 'outcome', fhirPath: 'outcome', fhir: (r) => r.outcome },
    search: () => ({ outcome: 'partial' }),
    params: () => ({ status: 'active', dateFrom: '2026-11-30', dateTo: '2026-11-30', outcome: 'partial' }), // PaymentReconciliationSearchParams
  },
  {
    ns: 'eligibilityRequests', example: 'eligibility-requests', type: 'CoverageEligibilityRequest', create: 'create',
    text: { simple: 'servicedDate', fhirPath: 'servicedDate', fhir: (r) => r.servicedDate },
    update: { body: { status: 'cancelled' }, want: 'cancelled', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'cancelled', dateFrom: '2026-11-18', dateTo: '2026-11-18' }), // EligibilityRequestSearchParams
  },
  {
    ns: 'eligibilityResponses', example: 'eligibility-responses', type: 'CoverageEligibilityResponse', create: 'create',
    text: { simple: 'disposition', fhirPath: 'disposition', fhir: (r) => r.disposition },
    update: { body: { preAuthRef: 'ELG-55121' }, want: 'ELG-55121', simple: 'preAuthRef', fhirPath: 'preAuthRef', fhir: (r) => r.preAuthRef },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'active', outcome: 'complete', requestId: f.eligibilityRequest }), // EligibilityResponseSearchParams
  },
  {
    ns: 'enrollmentRequests', example: 'enrollment-requests', type: 'EnrollmentRequest', create: 'create',
    text: { simple: 'created', fhirPath: 'created', fhir: (r) => r.created },
    update: { body: { status: 'cancelled' }, want: 'cancelled', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ candidateId: f.patient }),
    params: (f) => ({ candidateId: f.patient, status: 'cancelled', insurerId: f.organization }), // EnrollmentRequestSearchParams
  },
  {
    ns: 'enrollmentResponses', example: 'enrollment-responses', type: 'EnrollmentResponse', create: 'create',
    text: { simple: 'disposition', fhirPath: 'disposition', fhir: (r) => r.disposition },
    update: { body: { outcome: 'error' }, want: 'error', simple: 'outcome', fhirPath: 'outcome', fhir: (r) => r.outcome },
    search: () => ({ outcome: 'error' }),
    params: () => ({ status: 'active', outcome: 'error' }), // EnrollmentResponseSearchParams
  },
  {
    ns: 'measures', example: 'measures', type: 'Measure', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { status: 'retired' }, want: 'retired', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: () => ({ name: 'hba1c' }),
    params: () => ({ status: 'retired', name: 'hba1c', title: 'poor control', topic: 'Diabetes' }), // MeasureSearchParams
  },
  {
    ns: 'measureReports', example: 'measure-reports', type: 'MeasureReport', create: 'create',
    text: { simple: 'date', fhirPath: 'date', fhir: (r) => r.date },
    update: { body: { status: 'pending' }, want: 'pending', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'pending', measureId: f.measure, dateFrom: '2026-11-25', dateTo: '2026-11-25' }), // MeasureReportSearchParams
  },
  {
    ns: 'planDefinitions', example: 'plan-definitions', type: 'PlanDefinition', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { usage: 'Replaced by the 2027 protocol' }, want: 'Replaced by the 2027 protocol', simple: 'usage', fhirPath: 'usage', fhir: (r) => r.usage },
    search: () => ({ name: 'annualcare' }),
    params: () => ({ status: 'active', name: 'annualcare', title: 'annual care', type: 'clinical-protocol' }), // PlanDefinitionSearchParams
  },
  {
    ns: 'activityDefinitions', example: 'activity-definitions', type: 'ActivityDefinition', create: 'create',
    text: { simple: 'usage', fhirPath: 'usage', fhir: (r) => r.usage },
    update: { body: { priority: 'urgent' }, want: 'urgent', simple: 'priority', fhirPath: 'priority', fhir: (r) => r.priority },
    search: () => ({ name: 'hba1c' }),
    params: () => ({ status: 'active', name: 'hba1c', title: 'hemoglobin', kind: 'ServiceRequest', code: '4548-4' }), // ActivityDefinitionSearchParams
  },
];

// The FHIR types of these resources that patients.read(id, {include})
// asks for, and the field of the SDK's PatientReadResponse each lands in.
// PatientReadResponse has no field for any of them.
export const includeBuckets = {};

// fixtures makes, through the SDK, what these examples refer to besides
// the patient, practitioner and encounter (fixtures.patient, …), and
// returns them by name: {<name>Id} in an example is fixtures[<name>].
// fx(what, call) runs one create and returns the new id.
export async function fixtures(clinik, fx, made) {
  const f = {};
  f.organization = await fx('organization', () => clinik.organizations.create({ name: 'Cascade Health Plan', type: ['insurer'] }));
  f.location = await fx('location', () => clinik.locations.create({ name: 'Riverside Main Campus', status: 'active' }));
  f.schedule = await fx('schedule', () => clinik.schedules.create({ actorIds: [made.practitioner], comment: 'Fixture schedule' }));
  f.appointment = await fx('appointment', () => clinik.appointments.create({ status: 'booked', patientId: made.patient, practitionerId: made.practitioner,
    start: '2026-12-02T15:00:00Z', end: '2026-12-02T15:30:00Z' }));
  f.coverage = await fx('coverage', () => clinik.coverages.create({ status: 'active', patientId: made.patient, payorIds: [f.organization] }));
  f.account = await fx('account', () => clinik.accounts.create({ status: 'active', name: 'Fixture household' }));
  f.claim = await fx('claim', () => clinik.claims.create({ status: 'active', type: 'professional', use: 'claim', patientId: made.patient,
    providerId: made.practitioner, insurerId: f.organization, priority: 'normal', insurance: [{ sequence: 1, focal: true, coverageId: f.coverage }] }));
  f.claimResponse = await fx('claimResponse', () => clinik.claimResponses.create({ status: 'active', type: 'professional', use: 'claim',
    patientId: made.patient, insurerId: f.organization, requestId: f.claim, outcome: 'complete' }));
  f.reconciliation = await fx('reconciliation', () => clinik.paymentReconciliations.create({ status: 'active', paymentDate: '2026-11-30',
    paymentAmount: { value: 196, currency: 'USD' } }));
  f.eligibilityRequest = await fx('eligibilityRequest', () => clinik.eligibilityRequests.create({ status: 'active', purpose: ['validation'],
    patientId: made.patient, insurerId: f.organization }));
  f.enrollmentRequest = await fx('enrollmentRequest', () => clinik.enrollmentRequests.create({ status: 'active', candidateId: made.patient,
    insurerId: f.organization }));
  f.measure = await fx('measure', () => clinik.measures.create({ status: 'active', name: 'FixtureMeasure' }));
  return f;
}
