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
}
