"""The texts of the guardian's, the auditor's and the notification settings' pages,
Swedish first and English second; ``i18n`` merges them into its catalogs."""

from __future__ import annotations

SV: dict[str, str] = {
    "nav.children": "Agera för mitt barn",
    "nav.notifications": "Aviseringar",
    "nav.audit": "Granskning",
    "acting.banner": "Du agerar för {name}.",
    "acting.stop": "Sluta agera för barnet",
    "children.title": "Agera för mitt barn",
    "children.intro": (
        "Välj ett barn som du är vårdnadshavare för. Då söker du vård för barnet och ser "
        "barnets ärenden."
    ),
    "children.none": "Vi hittar inga barn mellan 1 och 12 år som du är vårdnadshavare för.",
    "children.act_for": "{name}, {age} år",
    "children.ages": (
        "Här visas barn från 1 till 12 år. Från 13 år loggar barnet in själv. "
        "Barn under ett år: ring 1177."
    ),
    "children.acting": "Du agerar nu för {name}. Ärenden du startar blir barnets.",
    "audit.title": "Granska journalen",
    "audit.intro": "Sök ärenden i region {region} på personnummer, vårdpersonal eller datum.",
    "audit.pin": "Patientens personnummer (12 siffror)",
    "audit.professional": "Vårdpersonal (namn eller del av namn)",
    "audit.date": "Datum",
    "audit.search": "Sök",
    "audit.need_criterion": "Fyll i minst ett av fälten: personnummer, vårdpersonal eller datum.",
    "audit.logged": "Varje sökning och varje läsning loggas i patientens logglista.",
    "audit.found": "Träffar: {n}",
    "audit.case": "Ärende",
    "audit.when": "Tid",
    "audit.professionals": "Vårdpersonal",
    "audit.entries": "Anteckningar",
    "audit.access_log": "Patientens logglista",
    "audit.show_access_log": "Visa logglistan",
    "audit.bad_pin": "Personnumret ska ha 12 siffror.",
    "audit.no_reads": "Ingen har läst patientens journal i regionen.",
    "audit.reader": "Vem",
    "audit.role": "Roll",
    "audit.action": "Vad",
    "audit.basis": "Grund",
    "audit.emergency": "nödåtkomst",
    "audit.back": "Till sökningen",
    "audit.case_title": "Ärendets journal",
    "audit.verified": "Verifierad: journalen är oförändrad",
    "audit.not_verified": "Varning: journalen kunde inte verifieras",
    "audit.verified_detail": (
        "{n} anteckningar kontrollerade mot den senaste signerade kontrollpunkten."
    ),
    "audit.broken_at": "första fel vid nummer {n}",
    "audit.fhir": "Ladda ner FHIR-export",
    "audit.journal": "Journalanteckningar",
    "audit.correction_of": "Rättelse av en tidigare anteckning.",
    "audit.corrected": "Rättad: se rättelsen längre ner.",
    "audit.state_at": "Läget vid en viss tid",
    "audit.moment": "Tidpunkt (svensk tid)",
    "audit.show_state": "Visa läget",
    "audit.timeline": "Tidslinje",
    "notify.title": "Aviseringar",
    "notify.intro": (
        "Välj hur vi ska säga till när det är din tur eller när vården har svarat. "
        "Sidan visar det alltid direkt när den är öppen."
    ),
    "notify.saved": "Dina val är sparade.",
    "notify.invalid": "Det gick inte att spara:",
    "notify.how": "Hur vill du bli aviserad?",
    "notify.sms": "Sms",
    "notify.phone": "Mobilnummer",
    "notify.phone_hint": "Med landsnummer, till exempel +46701234567.",
    "notify.email": "E-post",
    "notify.email_address": "E-postadress",
    "notify.push": "Avisering i webbläsaren",
    "notify.save": "Spara",
    "notify.push_title": "Avisering i webbläsaren",
    "notify.push_intro": (
        "Då får du veta att det är din tur även när sidan är stängd. Du kan också "
        "installera tjänsten som en app från webbläsarens meny."
    ),
    "notify.push_button": "Slå på avisering i den här webbläsaren",
    "notify.push_on": "Avisering i den här webbläsaren är på.",
    "notify.push_denied": (
        "Webbläsaren tillåter inte aviseringar. Ändra det i webbläsarens inställningar."
    ),
    "notify.push_failed": "Det gick inte att slå på avisering i webbläsaren.",
    "notify.push_unsupported": "Den här webbläsaren kan inte ta emot aviseringar.",
    "notify.push_off": "Avisering i webbläsaren finns inte här just nu. Välj sms eller e-post.",
}

EN: dict[str, str] = {
    "nav.children": "Act for my child",
    "nav.notifications": "Notifications",
    "nav.audit": "Audit",
    "acting.banner": "You are acting for {name}.",
    "acting.stop": "Stop acting for the child",
    "children.title": "Act for my child",
    "children.intro": (
        "Choose a child you are the guardian of. You then seek care for the child and see "
        "the child's cases."
    ),
    "children.none": "We find no children aged 1 to 12 that you are the guardian of.",
    "children.act_for": "{name}, {age} years",
    "children.ages": (
        "Children from 1 to 12 are shown. From 13 the child logs in themselves. "
        "Children under one: call 1177."
    ),
    "children.acting": "You are now acting for {name}. Cases you start are the child's.",
    "audit.title": "Audit the record",
    "audit.intro": "Search the cases of region {region} by identity number, professional or date.",
    "audit.pin": "The patient's identity number (12 digits)",
    "audit.professional": "Professional (name or part of it)",
    "audit.date": "Date",
    "audit.search": "Search",
    "audit.need_criterion": "Fill in at least one field: identity number, professional or date.",
    "audit.logged": "Every search and every read is logged in the patient's access log.",
    "audit.found": "Hits: {n}",
    "audit.case": "Case",
    "audit.when": "Time",
    "audit.professionals": "Professionals",
    "audit.entries": "Entries",
    "audit.access_log": "The patient's access log",
    "audit.show_access_log": "Show the access log",
    "audit.bad_pin": "The identity number has 12 digits.",
    "audit.no_reads": "Nobody has read the patient's record in the region.",
    "audit.reader": "Who",
    "audit.role": "Role",
    "audit.action": "What",
    "audit.basis": "Ground",
    "audit.emergency": "emergency access",
    "audit.back": "Back to the search",
    "audit.case_title": "The case's record",
    "audit.verified": "Verified: the record is unchanged",
    "audit.not_verified": "Warning: the record could not be verified",
    "audit.verified_detail": "{n} entries checked against the newest signed checkpoint.",
    "audit.broken_at": "first fault at number {n}",
    "audit.fhir": "Download the FHIR export",
    "audit.journal": "Journal entries",
    "audit.correction_of": "A correction of an earlier entry.",
    "audit.corrected": "Corrected: see the correction further down.",
    "audit.state_at": "The state at a given time",
    "audit.moment": "Time (Swedish time)",
    "audit.show_state": "Show the state",
    "audit.timeline": "Timeline",
    "notify.title": "Notifications",
    "notify.intro": (
        "Choose how we tell you when it is your turn or when care has answered. "
        "The page always shows it at once while it is open."
    ),
    "notify.saved": "Your choices are saved.",
    "notify.invalid": "Could not save:",
    "notify.how": "How do you want to be notified?",
    "notify.sms": "Text message (SMS)",
    "notify.phone": "Mobile number",
    "notify.phone_hint": "With the country code, for example +46701234567.",
    "notify.email": "E-mail",
    "notify.email_address": "E-mail address",
    "notify.push": "Browser notification",
    "notify.save": "Save",
    "notify.push_title": "Browser notification",
    "notify.push_intro": (
        "Then you learn it is your turn even when the page is closed. You can also "
        "install the service as an app from the browser's menu."
    ),
    "notify.push_button": "Turn on notifications in this browser",
    "notify.push_on": "Notifications in this browser are on.",
    "notify.push_denied": "The browser does not allow notifications. Change it in its settings.",
    "notify.push_failed": "Could not turn on notifications in the browser.",
    "notify.push_unsupported": "This browser cannot receive notifications.",
    "notify.push_off": (
        "Browser notifications are not available here right now. Choose SMS or e-mail."
    ),
}
