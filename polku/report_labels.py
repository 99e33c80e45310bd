"""Finnish and English labels for ``polku report``: each indicator of reporting's catalogue
(``contracts.reporting.INDICATORS``), each dimension and each value a dimension takes.

Every label is a pair ``(fi, en)``. A value without a label is shown as its code
(:func:`value_label`): a new vocabulary value never breaks the report, it only reads raw.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["fi", "en"]
Pair = tuple[str, str]

#: Each indicator's title.
INDICATOR_LABELS: dict[str, Pair] = {
    "active_by_nature": ("Aktiiviset asiakkuudet asiakkuuden luonteen mukaan", "Active client relationships by nature"),
    "active_by_own_worker": ("Aktiiviset asiakkuudet: onko omatyöntekijä nimetty", "Active client relationships with and without a named own worker"),
    "caseload_by_group": ("Asiakasmäärä ammattiryhmittäin", "Caseload by professional group"),
    "caseload_by_worker": ("Asiakasmäärä työntekijöittäin", "Caseload per worker"),
    "special_support_without_social_worker": (
        "Erityistä tukea tarvitsevat asiakkaat, joilla ei ole sosiaalityöntekijää omatyöntekijänä eikä työparina",
        "Clients with special support need who have no social worker as own worker or work pair",
    ),
    "screening_outcomes": ("Palveluohjauksessa käsitellyt yhteydenotot tuloksen mukaan", "Referrals screened by service guidance, by outcome"),
    "redirected_to": ("Muihin palveluihin ohjatut yhteydenotot", "Referrals redirected to other services, by where to"),
    "repeat_referral_flags": ("Toistuvat yhteydenotot (merkinnät)", "Repeat referrals flagged"),
    "urgent_needs": ("Kiireelliset avuntarpeet ja aika kiireelliseen arvioon (tuntia)", "Urgent needs and hours to the urgent assessment"),
    "waiting": ("Odotusaika yhteydenotosta vaiheeseen (vuorokautta)", "Waiting from receipt to each step (days)"),
    "assessments": ("Palvelutarpeen arvioinnit: aloitetut ja valmistuneet", "Service need assessments started and completed"),
    "assessment_duration": ("Palvelutarpeen arvioinnin kesto ja määräajassa pysyminen (vuorokautta)", "Service need assessments: duration and deadline (days)"),
    "meetings": ("Tapaamiset: toteutuneet ja käyttämättä jääneet", "Meetings held and missed"),
    "meetings_by_motivation": ("Tapaamiset asiakkaan motivaation mukaan", "Meetings by the client's motivation"),
    "plans_past_review": ("Suunnitelmat, joiden tarkistusajankohta on ohitettu", "Plans past their review date"),
    "activation_plans": ("Laaditut aktivointisuunnitelmat", "Activation plans made"),
    "activation_options_offered": ("Aktivointisuunnitelmissa tarjotut vaihtoehdot", "Options offered in activation plans"),
    "activation_options_chosen": ("Aktivointisuunnitelmissa valitut vaihtoehdot", "Options chosen in activation plans"),
    "activation_fewer_than_two_options": (
        "Ensimmäiset aktivointisuunnitelmat, joissa tarjottiin alle kaksi vaihtoehtoa",
        "First activation plans offering fewer than two options",
    ),
    "work_activity": ("Kuntouttavan työtoiminnan jaksot: alkaneet ja päättyneet", "Rehabilitative work activity periods started and ended"),
    "work_activity_outcomes": ("Päättyneet kuntouttavan työtoiminnan jaksot päättymistavan mukaan", "Ended rehabilitative work activity periods by outcome"),
    "disappeared": ("Asiakkaat, joihin ei ole saatu yhteyttä (vuorokautta)", "Clients out of reach (days since)"),
    "contact_attempts": ("Yhteydenottoyritykset tuloksen mukaan", "Contact attempts by outcome"),
    "end_proposals": ("Esitykset asiakkuuden päättämisestä", "Proposals to end the relationship"),
    "ends_by_reason": ("Päättyneet asiakkuudet päättymisen syyn mukaan", "Ended client relationships by reason"),
    "ends_not_formed": (
        "Päättyneet ilman asiakkuutta: palvelutarvetta ei todettu", "Ended without a client relationship: no service need found",
    ),
    "check_ins": ("Seurantayhteydenotot kuukausi päättymisen jälkeen tuloksen mukaan", "Check-ins a month after the end, by outcome"),
    "closes_by_reason": ("Lopullisesti suljetut asiakkuudet syyn mukaan", "Client relationships closed for good, by why"),
    "returning": ("Asiakkuuden päättymisen jälkeen palanneet asiakkaat", "Clients who came back after the end of their relationship"),
    "score_change": ("Arviointimittarien pistemuutos ensimmäisestä viimeisimpään", "Change in instrument scores, first to latest"),
    "referral_channels": ("Yhteydenotot yhteydenottotavan mukaan", "Referrals by channel"),
    "referral_sources": ("Yhteydenotot yhteydenottajan mukaan", "Referrals by source"),
    "concerns": ("Yhteydenotoissa mainitut huolenaiheet", "Concerns named in referrals"),
    "equal_treatment": ("Yhdenvertaisuus: nelikenttä ja asiakkaan polku", "Equal treatment: quadrant and the path taken"),
}

#: Each dimension's name (a table's column heading).
DIMENSION_LABELS: dict[str, Pair] = {
    "nature": ("Asiakkuuden luonne", "Nature"),
    "own_worker": ("Omatyöntekijä", "Own worker"),
    "role": ("Ammattiryhmä", "Professional group"),
    "worker": ("Työntekijä", "Worker"),
    "outcome": ("Tulos", "Outcome"),
    "target": ("Ohjattu", "Redirected to"),
    "assessed": ("Arvioitu", "Assessed"),
    "step": ("Vaihe", "Step"),
    "deadline": ("Määräaika", "Deadline"),
    "motivation": ("Motivaatio", "Motivation"),
    "kind": ("Suunnitelma", "Plan"),
    "option": ("Vaihtoehto", "Option"),
    "reason": ("Syy", "Reason"),
    "window": ("Aika päättymisestä", "Time after the end"),
    "instrument": ("Mittari", "Instrument"),
    "channel": ("Yhteydenottotapa", "Channel"),
    "source": ("Yhteydenottaja", "Source"),
    "concern": ("Huolenaihe", "Concern"),
    "team": ("Tiimi", "Team"),
    "quadrant": ("Nelikenttä", "Quadrant"),
    "path": ("Polku", "Path"),
}

_OTHER: Pair = ("Muu", "Other")

#: The values of each dimension. One dimension name may gather several vocabularies: ``outcome``
#: holds screening, meeting, contact-attempt and check-in outcomes, ``step`` the steps of
#: waiting, assessments and work activity, ``reason`` end reasons and work activity outcomes.
VALUE_LABELS: dict[str, dict[str, Pair]] = {
    "nature": {
        "temporary": ("Tilapäinen", "Temporary"),
        "recurring": ("Toistuva", "Recurring"),
        "continuous": ("Jatkuva", "Continuous"),
        "not_determined": ("Ei vielä määritelty", "Not determined"),
    },
    "own_worker": {
        "named": ("Omatyöntekijä nimetty", "Own worker named"),
        "not_named": ("Omatyöntekijää ei nimetty", "No own worker named"),
    },
    "role": {
        "service_guidance_worker": ("Palveluohjaaja", "Service guidance worker"),
        "social_counsellor": ("Sosiaaliohjaaja", "Social counsellor"),
        "social_worker": ("Sosiaalityöntekijä", "Social worker"),
        "team_lead": ("Tiimin esihenkilö", "Team lead"),
    },
    "outcome": {
        # screening by service guidance
        "advice_given": ("Neuvonta ja ohjaus riitti", "Advice and guidance given"),
        "redirected": ("Ohjattu muihin palveluihin", "Redirected to other services"),
        "urgent_need": ("Kiireellinen avuntarve", "Urgent need"),
        "assessment_needed": ("Palvelutarpeen arviointi tarpeen", "Service need assessment needed"),
        "not_reached": ("Asiakasta ei tavoitettu", "Client not reached"),
        "declines": ("Asiakas kieltäytyi", "Client declines"),
        # meetings
        "held": ("Toteutunut", "Held"),
        "missed": ("Käyttämättä jäänyt", "Missed"),
        # contact attempts
        "reached": ("Tavoitettu", "Reached"),
        "no_answer": ("Ei vastausta", "No answer"),
        "number_not_in_use": ("Numero ei käytössä", "Number not in use"),
        "mail_returned": ("Posti palautui", "Mail returned"),
        "refused": ("Kieltäytyi yhteydenpidosta", "Refused contact"),
        # check-ins
        "no_need": ("Ei tuen tarvetta", "No further need"),
        "need_found": ("Tuen tarve havaittu", "Need found"),
        "unreached": ("Asiakasta ei tavoitettu", "Client not reached"),
    },
    "target": {
        "kela": ("Kela", "Kela"),
        "ngo": ("Järjestö", "NGO"),
        "health_care": ("Terveydenhuolto", "Health care"),
        "employment_services": ("Työllisyyspalvelut", "Employment services"),
        "housing_services": ("Asumispalvelut", "Housing services"),
        "other_services": ("Muut palvelut", "Other services"),
    },
    "assessed": {
        "yes": ("Arvioitu", "Assessed"),
        "no": ("Ei vielä arvioitu", "Not yet assessed"),
    },
    "step": {
        "screened": ("Käsitelty palveluohjauksessa", "Screened"),
        "triaged": ("Sijoitettu nelikenttään", "Triaged"),
        "routed": ("Ohjattu työntekijälle", "Routed to a worker"),
        "first_meeting_held": ("Ensitapaaminen pidetty", "First meeting held"),
        "started": ("Aloitettu", "Started"),
        "completed": ("Valmistunut", "Completed"),
        "ended": ("Päättynyt", "Ended"),
    },
    "deadline": {
        "on_time": ("Määräajassa", "On time"),
        "late": ("Myöhässä", "Late"),
    },
    "motivation": {
        "motivated": ("Motivoitunut", "Motivated"),
        "ambivalent": ("Kahden vaiheilla", "Ambivalent"),
        "not_motivated": ("Ei motivoitunut", "Not motivated"),
        "not_assessed": ("Ei arvioitu", "Not assessed"),
    },
    "kind": {
        "client_plan": ("Asiakassuunnitelma", "Client plan"),
        "activation_plan": ("Aktivointisuunnitelma", "Activation plan"),
        "employment_plan": ("Työllistymissuunnitelma", "Employment plan"),
    },
    "option": {
        "rehabilitative_work_activity": ("Kuntouttava työtoiminta", "Rehabilitative work activity"),
        "education": ("Koulutus", "Education"),
        "work_trial": ("Työkokeilu", "Work trial"),
        "pay_subsidised_work": ("Palkkatuettu työ", "Pay-subsidised work"),
        "job_search_support": ("Työnhaun tuki", "Job search support"),
        "medical_rehabilitation": ("Lääkinnällinen kuntoutus", "Medical rehabilitation"),
        "health_examination": ("Terveystarkastus", "Health examination"),
        "work_coaching": ("Työhönvalmennus", "Work coaching"),
        "substance_abuse_rehabilitation": ("Päihdekuntoutus", "Substance-abuse rehabilitation"),
        "social_rehabilitation": ("Sosiaalinen kuntoutus", "Social rehabilitation"),
        "typ_service": ("TYP (työllistymistä edistävä monialainen yhteispalvelu)", "TYP (multisectoral joint service for employment)"),
        "other": _OTHER,
    },
    "reason": {
        # ends of client relationships
        "goal_reached": ("Tavoite saavutettu", "Goal reached"),
        "no_service_need": ("Ei palvelutarvetta", "No service need"),
        "moved": ("Muuttanut pois", "Moved away"),
        "died": ("Kuollut", "Died"),
        "client_ended": ("Asiakas päätti asiakkuuden", "Ended by the client"),
        "transferred_to_work": ("Siirtynyt työhön", "Moved on to work"),
        "transferred_to_study": ("Siirtynyt opiskelemaan", "Moved on to study"),
        "transferred_to_pension": ("Siirtynyt eläkkeelle", "Moved on to a pension"),
        "transferred_to_other_services": ("Siirtynyt muiden palvelujen piiriin", "Moved on to other services"),
        "unreachable": ("Asiakasta ei tavoiteta", "Client unreachable"),
        # closes of client relationships
        "check_in_no_need": ("Seurantayhteydenotossa ei tarvetta", "The check-in found no need"),
        "check_in_unreached": ("Seurantayhteydenotossa ei tavoitettu", "The check-in did not reach the client"),
        "need_in_other_relationship": ("Tarve toisessa asiakkuudessa", "The need is in another relationship"),
        "no_check_in_due": ("Ei seurantayhteydenottoa", "No check-in due"),
        "not_formed": ("Asiakkuutta ei syntynyt", "No client relationship formed"),
        # ends of work activity periods
        "period_completed": ("Jakso päättyi suunnitellusti", "Period completed"),
        "interrupted": ("Jakso keskeytyi", "Interrupted"),
    },
    "window": {
        "6m": ("6 kuukauden kuluessa", "Within 6 months"),
        "12m": ("12 kuukauden kuluessa", "Within 12 months"),
    },
    "instrument": {
        "kykyviisari": ("Kykyviisari", "Kykyviisari"),
        "avain": ("AVAIN-mittari", "AVAIN"),
        "other": ("Muu mittari", "Other instrument"),
    },
    "channel": {
        "phone": ("Puhelin", "Phone"),
        "e_service": ("Sähköinen asiointi", "E-service"),
        "letter": ("Kirje", "Letter"),
        "in_person": ("Käynti", "In person"),
        "notification": ("Ilmoitus sosiaalihuollon tarpeesta", "Notification of a need for social welfare"),
        "outreach": ("Etsivä työ", "Outreach"),
    },
    "source": {
        "client": ("Asiakas itse", "The client"),
        "relative": ("Läheinen", "A relative"),
        "authority": ("Viranomainen", "An authority"),
        "worker_observation": ("Työntekijän havainto", "A worker's observation"),
        "prolonged_unemployment": ("Pitkittynyt työttömyys", "Prolonged unemployment"),
        "other": _OTHER,
        # authorities, where a source is broken down by authority
        "police": ("Poliisi", "Police"),
        "health_care": ("Terveydenhuolto", "Health care"),
        "employment_services": ("Työllisyyspalvelut", "Employment services"),
        "kela": ("Kela", "Kela"),
        "housing": ("Asumisen toimijat", "Housing"),
    },
    "concern": {
        "livelihood": ("Toimeentulo", "Livelihood"),
        "housing": ("Asuminen", "Housing"),
        "employment": ("Työllistyminen", "Employment"),
        "substance_use": ("Päihteiden käyttö", "Substance use"),
        "mental_health": ("Mielenterveys", "Mental health"),
        "physical_health": ("Fyysinen terveys", "Physical health"),
        "debt": ("Velat", "Debt"),
        "daily_living": ("Arjessa selviytyminen", "Daily living"),
        "social_relationships": ("Sosiaaliset suhteet", "Social relationships"),
        "violence": ("Väkivalta", "Violence"),
        "other": _OTHER,
    },
    # The grid's quadrant codes are policy (POLKU_TRIAGE_GRID): these are the default grid's.
    "quadrant": {
        "A": ("A: hakee apua, yksi tarve", "A: seeks help, single need"),
        "B": ("B: hakee apua, useita tarpeita", "B: seeks help, several needs"),
        "C": ("C: vaikeus hakea apua, yksi tarve", "C: difficulty seeking help, single need"),
        "D": ("D: vaikeus hakea apua, useita tarpeita", "D: difficulty seeking help, several needs"),
    },
    "path": {
        "routed_social_worker": ("Ohjattu sosiaalityöntekijälle", "Routed to a social worker"),
        "routed_social_counsellor": ("Ohjattu sosiaaliohjaajalle", "Routed to a social counsellor"),
        "assessed": ("Palvelutarve arvioitu", "Service need assessed"),
        "planned": ("Asiakassuunnitelma laadittu", "Plan made"),
        "ended": ("Asiakkuus päättynyt", "Relationship ended"),
    },
}

#: What an indicator's cells count (``Indicator.unit``).
UNIT_LABELS: dict[str, Pair] = {
    "clients": ("asiakasta", "clients"),
    "relationships": ("asiakkuutta", "client relationships"),
    "referrals": ("yhteydenottoa", "referrals"),
    "meetings": ("tapaamista", "meetings"),
    "plans": ("suunnitelmaa", "plans"),
    "periods": ("jaksoa", "periods"),
    "decisions": ("päätöstä", "decisions"),
    "attempts": ("yritystä", "attempts"),
    "check_ins": ("seurantayhteydenottoa", "check-ins"),
    "workers": ("työntekijää", "workers"),
}

#: What a median and 90th percentile measure (``Indicator.measure``).
MEASURE_LABELS: dict[str, Pair] = {
    "hours": ("tuntia", "hours"),
    "days": ("vuorokautta", "days"),
    "points": ("pistettä", "points"),
}

#: The words of the report itself.
TEXT: dict[str, Pair] = {
    "title": ("Aikuissosiaalityön raportti", "Adult social work report"),
    "period": ("Kausi", "Period"),
    "team": ("Tiimi", "Team"),
    "all_teams": ("Kaikki tiimit", "All teams"),
    "written": ("Laadittu", "Written"),
    "positions": ("Tapahtumavirtojen kohdat", "Stream positions"),
    "suppression": ("Pienten lukujen suojaus", "Small-count protection"),
    "contents": ("Sisällys", "Contents"),
    "count": ("Lukumäärä", "Count"),
    "median": ("Mediaani", "Median"),
    "p90": ("90. persentiili", "90th percentile"),
    "capacity": ("Kapasiteetti", "Capacity"),
    "total": ("Yhteensä", "Total"),
    "stock": ("Tilanne kauden viimeisenä päivänä", "At the period's last day"),
    "flow": ("Kauden aikana", "Within the period"),
    "no_cells": ("Ei lukuja tältä kaudelta.", "No figures for this period."),
    "must_be_zero": ("Pitää olla nolla.", "Must be zero."),
    "is_zero": ("Nolla, kuten pitää.", "Zero, as it must be."),
    "not_zero": ("EI NOLLA: asiakkaalla on oltava sosiaalityöntekijä omatyöntekijänä tai työparina.",
                 "NOT ZERO: such a client must have a social worker as own worker or work pair."),
    "should_be_zero": ("Tavoite on nolla.", "The aim is zero."),
    "hidden": ("piilotettu", "hidden"),
    "per_worker": (
        "Työntekijäkohtaisia lukuja ei näytetä raportissa. Asiakasmäärät näytetään ammattiryhmittäin.",
        "The report shows no figures per worker. Caseloads are shown by professional group.",
    ),
    "see_group": ("Katso asiakasmäärä ammattiryhmittäin", "See the caseload by professional group"),
    "measure_hidden": (
        "Mediaani ja 90. persentiili näytetään vain näytetyille lukumäärille.",
        "The median and 90th percentile are shown only where the count is shown.",
    ),
    "not_partition": (
        "Sama asia voi kuulua useaan soluun, joten solut eivät laske yhteen.",
        "One thing may be counted in several cells, so the cells do not add up.",
    ),
    "footer": (
        "Raportti sisältää vain koottuja lukumääriä: ei asiakkaiden eikä työntekijöiden tunnisteita, nimiä eikä vapaata tekstiä.",
        "The report holds aggregate counts only: no client or worker identifiers, names or free text.",
    ),
}


def pick(pair: Pair, lang: Lang) -> str:
    return pair[0] if lang == "fi" else pair[1]


def indicator_label(name: str) -> Pair:
    """An indicator's title, or its name where it has none."""
    return INDICATOR_LABELS.get(name, (name, name))


def dimension_label(dimension: str) -> Pair:
    return DIMENSION_LABELS.get(dimension, (dimension, dimension))


def value_label(dimension: str, value: str) -> Pair:
    """A dimension value's label; an unknown value falls back to its code (a team's, too)."""
    return VALUE_LABELS.get(dimension, {}).get(value, (value, value))
