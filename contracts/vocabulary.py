"""Closed vocabularies of the published language.

Each is a ``Literal``: the wire carries the snake_case value, a decoder refuses any other value,
and the JSON Schema lists the allowed values. Add a value only with care: readers of older
versions refuse what they do not know.
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["phone", "e_service", "letter", "in_person", "notification", "outreach"]

SourceKind = Literal["client", "relative", "authority", "worker_observation", "other"]

#: Sources added since contract v1 (``SourceKind`` is v1's, closed), carried in a referral
#: source's ``further_kind``: prolonged unemployment (the Aava model, seed 003: social services
#: contact the client when unemployment is prolonged; the thesis's case, 500 + 180 days).
FurtherSourceKind = Literal["prolonged_unemployment"]

AuthorityKind = Literal["police", "health_care", "employment_services", "kela", "housing", "other"]

ConcernCategory = Literal[
    "livelihood",
    "housing",
    "employment",
    "substance_use",
    "mental_health",
    "physical_health",
    "debt",
    "daily_living",
    "social_relationships",
    "violence",
    "other",
]

WorkerRole = Literal[
    "service_guidance_worker",
    "social_counsellor",
    "social_worker",
    "team_lead",
]

#: The profession of a health-care professional who is the own worker's work pair (seed 001: when
#: the client's need of support is wider than social welfare); not on the social-work roster.
HealthCareProfession = Literal[
    "nurse",
    "public_health_nurse",
    "psychiatric_nurse",
    "physician",
    "psychologist",
    "physiotherapist",
    "occupational_therapist",
    "other",
]

OwnWorkerReason = Literal[
    "initial",
    "support_need_changed",
    "competence",
    "absence",
    "clients_request",
]

PlanKind = Literal["client_plan", "activation_plan", "employment_plan"]

DisappearanceDetection = Literal[
    "missed_meetings",
    "unreachable_by_phone",
    "mail_returned",
    "reported_by_other_authority",
    "other",
]

EndReason = Literal[
    "goal_reached",
    "no_service_need",
    "moved",
    "died",
    "client_ended",
    "transferred_to_work",
    "transferred_to_study",
    "transferred_to_pension",
    "transferred_to_other_services",
    "unreachable",
]

WORKER_ROLES: tuple[str, ...] = get_args(WorkerRole)
CHANNELS: tuple[str, ...] = get_args(Channel)

# ------------------------------------------------------------------ intake: screening onward
ScreeningOutcome = Literal[
    "advice_given",  # advice and guidance was enough: a temporary relationship, closed
    "redirected",  # to other services (redirected_to says where): closed
    "urgent_need",  # urgent need of help: assessed at once by the urgent team
    "assessment_needed",  # service need assessment needed: triaged and routed on
    "not_reached",  # the client could not be reached: closed
    "declines",  # the client declines: closed
]

RedirectTarget = Literal[
    "kela", "ngo", "health_care", "employment_services", "housing_services", "other_services"
]

Motivation = Literal["motivated", "ambivalent", "not_motivated", "not_assessed"]

UrgentAction = Literal[
    "emergency_accommodation",
    "emergency_social_assistance",
    "crisis_work",
    "health_care_contacted",
    "police_contacted",
    "other_authority_notified",
    "other",
]

OverrideReason = Literal["continuity", "competence", "workload", "clients_request", "other"]

ReferralClosingReason = Literal["advice_given", "redirected", "not_reached", "declines"]

SCREENING_OUTCOMES: tuple[str, ...] = get_args(ScreeningOutcome)
# ------------------------------------------------------------------------------ casefile
#: Why a person has special support need (SHL 3 §): difficulty seeking or obtaining services.
SupportNeedGround = Literal[
    "illness",
    "disability",
    "substance_use",
    "social_situation",
    "multiple_needs",
    "other",
]

RelationshipNature = Literal["temporary", "recurring", "continuous"]

AssessmentConclusion = Literal["service_need", "no_service_need"]

#: What an activation plan (KTTL 8 §) can offer.
ActivationOption = Literal[
    "rehabilitative_work_activity",
    "education",
    "work_trial",
    "pay_subsidised_work",
    "job_search_support",
    "medical_rehabilitation",
    "health_examination",
    "other",
]

#: Options of an activation plan added since contract v1 (``ActivationOption`` is v1's, closed),
#: carried in the plan's ``further_*`` fields: work coaching, substance-abuse rehabilitation,
#: social rehabilitation, and the TYP (the multisectoral joint service for employment promotion,
#: Act 1369/2014) (seed 003: what an activation plan may contain).
FurtherActivationOption = Literal[
    "work_coaching",
    "substance_abuse_rehabilitation",
    "social_rehabilitation",
    "typ_service",
]

#: The client's education as an activation plan records it (KTTL 8 §): the highest level completed.
EducationLevel = Literal[
    "no_basic_education",
    "basic_education",
    "upper_secondary_general",
    "vocational",
    "higher_education",
]

#: The client's work history as an activation plan records it (KTTL 8 §): its length in total.
WorkHistory = Literal["none", "under_one_year", "one_to_five_years", "over_five_years"]

#: How the client's earlier activation (or employment) plans went (KTTL 8 §).
EarlierPlansOutcome = Literal["no_earlier_plans", "carried_out", "partly_carried_out", "not_carried_out"]

#: Who took part in making an activation plan besides the social services' worker (KTTL 8 §:
#: made with the client and employment services; the client may bring a support person; at a
#: TYP, Kela takes part too).
PlanParticipant = Literal["client", "employment_services", "kela", "support_person", "health_care", "other"]

#: Who is responsible for a measure of a plan.
Responsible = Literal[
    "client",
    "own_worker",
    "work_pair",
    "employment_services",
    "activity_centre",
    "health_care",
    "other",
]

DecisionKind = Literal[
    "rehabilitative_work_activity",
    "activity_allowance",
    "travel_compensation",
    "familiarisation_period",
    "housing_service",
    "substance_abuse_service",
    "mental_health_service",
    "supported_living",
    "financial_assistance",
    "other_service",
]

#: A decision's outcome: granted, partly granted (a negative decision too), or denied.
DecisionOutcome = Literal["granted", "partly_granted", "denied"]

MeetingKind = Literal[
    "first_meeting",
    "assessment",
    "plan_meeting",
    "activation_meeting",
    "follow_up",
    "network_meeting",
]

MeetingChannel = Literal["in_person", "phone", "video", "home_visit"]

MeetingOutcome = Literal["held", "missed"]

#: What the client was told at a held meeting (seed 003: the own worker tells the client of
#: their rights, obligations, options and the benefits (supports) at the first meeting; seed 001:
#: clients, and even other workers, often do not know who the own worker is). Added after
#: contract v1.
ClientInformedOf = Literal["rights", "obligations", "options", "benefits", "own_worker"]

Instrument = Literal["kykyviisari", "avain", "other"]

ConsentKind = Literal["information_exchange", "family_participation", "contact_other_authorities"]

WorkActivityEndReason = Literal["period_completed", "interrupted"]

#: What a worker consults another professional about (seed 002: recognising special support
#: need on the four-field grid, a change in the support need, the service need assessment of the
#: client's situation, whether a matter is urgent, and the division of work: who is own worker or
#: work pair). Added after contract v1.
ConsultationTopic = Literal[
    "special_support_need",
    "support_need_changed",
    "service_need_assessment",
    "urgency",
    "division_of_work",
    "other",
]

#: Whom a worker consulted when they are not on Polku's roster, by profession (seed 002: a social
#: worker; seed 001: the leading social worker, the team lead, instead of a work pair). Added
#: after contract v1.
ConsultedProfession = Literal[
    "social_worker",
    "team_lead",
    "social_counsellor",
    "health_care_professional",
    "substance_abuse_professional",
    "employment_services_expert",
    "other",
]

#: Why a client was absent on a day of rehabilitative work activity (seed 003: the worker keeps
#: in touch during absences; sick leave and agreed changes are part of the rules of work).
AbsenceReason = Literal["illness", "agreed_leave", "unannounced", "other"]

ReopenReason = Literal["client_returned", "check_in_found_need", "new_referral"]

#: Why an ended relationship was closed for good (RelationshipClosed; seed 003: the one-month
#: check-in closes it when it finds no need): the check-in found no need; it could not reach the
#: client in its tries; it found a need that the client's other open relationship takes up; no
#: check-in is due for the end reason (``POLKU_NO_CHECK_IN_REASONS``, by default a client who
#: died); or the end was a finding of no service need before any was found, so no client
#: relationship was formed (seed 000) and there is nothing to check in on.
CloseReason = Literal[
    "check_in_no_need", "check_in_unreached", "need_in_other_relationship", "no_check_in_due", "not_formed",
]

# --------------------------------------------------------------------------------- audit
#: Why a worker read a client's record (the Client Data Act's usage log).
ViewPurpose = Literal["client_work", "decision_making", "consultation", "supervision", "client_request"]

#: Which part of the record was read.
RecordPart = Literal["state", "timeline"]

#: Which part of intake's records was read (intake's usage log).
IntakeRecordPart = Literal["referral_status", "distribution_queue"]

# ---------------------------------------------------------------------------- disclosures
#: Who client data is disclosed to: another authority, by kind.
RecipientAuthority = Literal[
    "employment_services", "kela", "health_care", "police", "housing", "child_welfare", "other_authority"
]

#: On what a disclosure rests: the client's consent, or a provision of law (its statute code).
DisclosureBasisKind = Literal["consent", "law"]

#: The provisions of law a disclosure without consent may rest on (statute and section).
DisclosureStatute = Literal[
    "asiakastietolaki_17",  # Client Data Act 703/2023 § 17: necessary for the client's care
    "asiakastietolaki_18",  # § 18: necessary to assess a need or secure care
    "asiakastietolaki_19",  # § 19: to the police, for a life or health at risk or a serious crime
    "shl_35",  # Social Welfare Act § 35: a notice of a need for social welfare
    "tyollisyyspalvelulaki",  # Act on Organising Employment Services (380/2023)
    "kela_laki",  # Kela's right to receive data for a benefit
]

#: What kind of client data was disclosed.
DataCategory = Literal[
    "identity", "contact", "relationship_status", "service_need", "client_plan", "decisions",
    "work_activity", "measurements", "health",
]
