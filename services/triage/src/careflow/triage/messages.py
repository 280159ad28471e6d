# ruff: noqa: RUF001, E501
# (Texts in Arabic and Persian script, whose letters look like Latin ones to the linter;
# a translation's line is as long as its sentence.)
"""What triage tells a patient when it refuses something, in plain words in every language.

Pure data: Swedish first; English; Arabic, Somali, Persian and Finnish are sample
translations until reviewed by people. ``careflow triage lint`` checks that every text
exists in every language and that every Swedish text reads plainly (LIX).
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "under_one": {
        "sv": "Tjänsten är inte till för barn under ett år. Ring 1177.",
        "en": "This service is not for children under one year. Call 1177.",
        "ar": "هذه الخدمة ليست للأطفال دون سن السنة. اتصل بالرقم 1177.",
        "so": "Adeegani looma talagalin carruurta ka yar hal sano. Wac 1177.",
        "fa": "این خدمت برای کودکان زیر یک سال نیست. با ۱۱۷۷ تماس بگیرید.",
        "fi": "Tämä palvelu ei ole alle vuoden ikäisille lapsille. Soita 1177.",
    },
    "region_closed": {
        "sv": "{region} tar bara emot patienter som bor där. Sök vård i {home}.",
        "en": "{region} only takes patients who live there. Seek care in {home}.",
        "ar": "تستقبل {region} فقط المرضى الذين يسكنون فيها. اطلب الرعاية في {home}.",
        "so": "{region} waxay qaabishaa oo keliya bukaanada halkaas deggan. Daryeel ka raadso {home}.",
        "fa": "{region} فقط بیمارانی را می‌پذیرد که آنجا زندگی می‌کنند. در {home} به پزشک مراجعه کنید.",
        "fi": "{region} ottaa vastaan vain siellä asuvia potilaita. Hakeudu hoitoon alueella {home}.",
    },
    "unknown_region": {
        "sv": "Vi hittar ingen region som heter {region}.",
        "en": "We cannot find a region called {region}.",
        "ar": "لا نجد منطقة باسم {region}.",
        "so": "Ma helin gobol la yiraahdo {region}.",
        "fa": "منطقه‌ای به نام {region} پیدا نکردیم.",
        "fi": "Emme löydä aluetta nimeltä {region}.",
    },
    "no_questionnaire": {
        "sv": "Vi hittar inte de frågorna.",
        "en": "We cannot find those questions.",
        "ar": "لا نجد هذه الأسئلة.",
        "so": "Ma helin su'aalahaas.",
        "fa": "این پرسش‌ها را پیدا نکردیم.",
        "fi": "Emme löydä niitä kysymyksiä.",
    },
    "no_triage": {
        "sv": "Du har inga frågor att svara på nu. Börja från början.",
        "en": "You have no questions to answer now. Start from the beginning.",
        "ar": "ليس لديك أسئلة للإجابة عنها الآن. ابدأ من البداية.",
        "so": "Hadda su'aalo aad ka jawaabto ma jiraan. Bilow mar kale.",
        "fa": "الان پرسشی برای پاسخ دادن ندارید. از اول شروع کنید.",
        "fi": "Sinulla ei ole nyt kysymyksiä vastattavana. Aloita alusta.",
    },
    "triage_expired": {
        "sv": "Det gick för lång tid utan svar. Börja från början.",
        "en": "Too much time passed without an answer. Start from the beginning.",
        "ar": "مر وقت طويل دون إجابة. ابدأ من البداية.",
        "so": "Waqti badan ayaa dhaafay iyadoo aan jawaab la helin. Bilow mar kale.",
        "fa": "زمان زیادی بدون پاسخ گذشت. از اول شروع کنید.",
        "fi": "Vastausta ei tullut liian pitkään aikaan. Aloita alusta.",
    },
    "questionnaire_changed": {
        "sv": "Frågorna har ändrats sedan du började. Börja från början.",
        "en": "The questions have changed since you began. Start from the beginning.",
        "ar": "تغيرت الأسئلة منذ أن بدأت. ابدأ من البداية.",
        "so": "Su'aalaha way isbeddeleen tan iyo markii aad bilowday. Bilow mar kale.",
        "fa": "پرسش‌ها از وقتی شروع کردید تغییر کرده‌اند. از اول شروع کنید.",
        "fi": "Kysymykset ovat muuttuneet sen jälkeen, kun aloitit. Aloita alusta.",
    },
    "log_in_again": {
        "sv": "Vi vet inte din ålder. Logga in igen.",
        "en": "We do not know your age. Log in again.",
        "ar": "لا نعرف عمرك. سجّل الدخول مرة أخرى.",
        "so": "Ma naqaanno da'daada. Mar kale gal.",
        "fa": "سن شما را نمی‌دانیم. دوباره وارد شوید.",
        "fi": "Emme tiedä ikääsi. Kirjaudu uudelleen.",
    },
    "no_such_case": {
        "sv": "Vi hittar inte ärendet.",
        "en": "We cannot find the case.",
        "ar": "لا نجد الحالة.",
        "so": "Ma helin kiiskaaga.",
        "fa": "پرونده را پیدا نکردیم.",
        "fi": "Emme löydä asiaa.",
    },
    "no_outcome_yet": {
        "sv": "Du har inte svarat klart på frågorna än.",
        "en": "You have not finished answering the questions yet.",
        "ar": "لم تنتهِ من الإجابة عن الأسئلة بعد.",
        "so": "Weli ma aadan dhammaystirin jawaabaha su'aalaha.",
        "fa": "هنوز پاسخ دادن به پرسش‌ها را تمام نکرده‌اید.",
        "fi": "Et ole vielä vastannut kaikkiin kysymyksiin.",
    },
    "answer_yes_no": {
        "sv": "Svara ja eller nej.",
        "en": "Answer yes or no.",
        "ar": "أجب بنعم أو لا.",
        "so": "Ku jawaab haa ama maya.",
        "fa": "بله یا نه پاسخ دهید.",
        "fi": "Vastaa kyllä tai ei.",
    },
    "answer_one_option": {
        "sv": "Välj ett av svaren.",
        "en": "Choose one of the answers.",
        "ar": "اختر إجابة واحدة.",
        "so": "Dooro mid ka mid ah jawaabaha.",
        "fa": "یکی از پاسخ‌ها را انتخاب کنید.",
        "fi": "Valitse yksi vastauksista.",
    },
    "answer_options": {
        "sv": "Välj ett eller flera av svaren.",
        "en": "Choose one or more of the answers.",
        "ar": "اختر إجابة واحدة أو أكثر.",
        "so": "Dooro hal ama in ka badan oo jawaabaha ah.",
        "fa": "یک یا چند پاسخ را انتخاب کنید.",
        "fi": "Valitse yksi tai useampi vastaus.",
    },
    "option_twice": {
        "sv": "Du har valt samma svar två gånger.",
        "en": "You chose the same answer twice.",
        "ar": "اخترت الإجابة نفسها مرتين.",
        "so": "Isla jawaabta ayaad laba jeer dooratay.",
        "fa": "یک پاسخ را دو بار انتخاب کرده‌اید.",
        "fi": "Valitsit saman vastauksen kahdesti.",
    },
    "answer_number": {
        "sv": "Svara med en siffra.",
        "en": "Answer with a number.",
        "ar": "أجب برقم.",
        "so": "Ku jawaab lambar.",
        "fa": "با یک عدد پاسخ دهید.",
        "fi": "Vastaa numerolla.",
    },
    "answer_whole_number": {
        "sv": "Svara med ett helt tal, utan decimaler.",
        "en": "Answer with a whole number, without decimals.",
        "ar": "أجب برقم صحيح، بدون كسور عشرية.",
        "so": "Ku jawaab lambar dhan, jajab la'aan.",
        "fa": "با یک عدد صحیح، بدون اعشار، پاسخ دهید.",
        "fi": "Vastaa kokonaisluvulla ilman desimaaleja.",
    },
    "answer_range": {
        "sv": "Svara med ett tal från {min} till {max}.",
        "en": "Answer with a number from {min} to {max}.",
        "ar": "أجب برقم من {min} إلى {max}.",
        "so": "Ku jawaab lambar u dhexeeya {min} ilaa {max}.",
        "fa": "با عددی از {min} تا {max} پاسخ دهید.",
        "fi": "Vastaa luvulla, joka on vähintään {min} ja enintään {max}.",
    },
    "answer_text": {
        "sv": "Skriv ditt svar med ord.",
        "en": "Write your answer in words.",
        "ar": "اكتب إجابتك بالكلمات.",
        "so": "Jawaabtaada ku qor erayo.",
        "fa": "پاسخ خود را با کلمات بنویسید.",
        "fi": "Kirjoita vastauksesi sanoin.",
    },
    "answer_too_long": {
        "sv": "Skriv högst {max} tecken.",
        "en": "Write at most {max} characters.",
        "ar": "اكتب {max} حرفًا على الأكثر.",
        "so": "Qor ugu badnaan {max} xaraf.",
        "fa": "حداکثر {max} نویسه بنویسید.",
        "fi": "Kirjoita enintään {max} merkkiä.",
    },
}


def said(key: str, **values: object) -> dict[str, str]:
    """The message ``key`` with ``values`` filled in, in every language."""
    return {lang: text.format(**values) for lang, text in MESSAGES[key].items()}
