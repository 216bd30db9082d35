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
  return f;
}
