# ruff: noqa: E501
# (Texts in Arabic and Persian script, whose letters look like Latin ones to the linter;
# a translation's line is as long as its sentence.)
"""What a person refused at login is told, in plain words in every language (pure data).

Keyed by the refusal's code (``Refusal`` values, and ``failed`` for a login that did not
complete). Swedish first; English; Arabic, Somali, Persian and Finnish are sample
translations until reviewed by people. ``careflow triage lint`` checks that every text
exists in every language and that every Swedish text reads plainly (LIX).
"""

from __future__ import annotations

from collections.abc import Mapping

GUIDANCE_SAID: Mapping[str, Mapping[str, str]] = {
    "coordination_number": {
        "sv": "Du måste ha ett svenskt personnummer. Har du samordningsnummer? Ring 1177 eller gå till din vårdcentral.",
        "en": "1177 direkt needs a Swedish personal identity number. With a coordination number, call 1177 or contact your health centre.",
        "ar": "تتطلب خدمة 1177 direkt رقمًا شخصيًا سويديًا. إذا كان لديك رقم تنسيق، اتصل بالرقم 1177 أو تواصل مع مركزك الصحي.",
        "so": "1177 direkt waxay u baahan tahay lambar shakhsiyeed oo Iswiidhish ah. Haddii aad leedahay lambar isku-duwid, wac 1177 ama la xiriir xarunta caafimaadkaaga.",
        "fa": "برای 1177 direkt شماره شخصی سوئدی لازم است. اگر شماره هماهنگی دارید، با 1177 تماس بگیرید یا با درمانگاه خود تماس بگیرید.",
        "fi": "1177 direkt edellyttää ruotsalaista henkilötunnusta. Jos sinulla on koordinointinumero, soita 1177 tai ota yhteyttä terveyskeskukseesi.",
    },
    "under_one": {
        "sv": "Barn under ett år får inte hjälp här. Ring 1177.",
        "en": "Children under one year are not helped here. Call 1177.",
        "ar": "لا يتلقى الأطفال دون سن السنة المساعدة هنا. اتصل بالرقم 1177.",
        "so": "Carruurta ka yar hal sano halkan laguma caawiyo. Wac 1177.",
        "fa": "به کودکان زیر یک سال اینجا کمک نمی‌شود. با 1177 تماس بگیرید.",
        "fi": "Alle vuoden ikäisiä lapsia ei auteta täällä. Soita 1177.",
    },
    "child_must_be_acted_for": {
        "sv": "Barn under 13 år får hjälp genom en vårdnadshavare. Be din förälder att logga in.",
        "en": "Children under 13 are helped through a guardian. Ask your parent to log in.",
        "ar": "يتلقى الأطفال دون سن 13 المساعدة عن طريق ولي الأمر. اطلب من والدك أو والدتك تسجيل الدخول.",
        "so": "Carruurta ka yar 13 jir waxaa lagu caawiyaa waalidkood. Waalidkaa ka codso inuu galo.",
        "fa": "به کودکان زیر ۱۳ سال از طریق سرپرست کمک می‌شود. از پدر یا مادرتان بخواهید وارد شود.",
        "fi": "Alle 13-vuotiaita autetaan huoltajan kautta. Pyydä vanhempaasi kirjautumaan.",
    },
    "protected_identity": {
        "sv": "Har du skyddade personuppgifter? Då kan du inte använda tjänsten. Ring 1177 eller gå till din vårdcentral.",
        "en": "With protected personal data, call 1177 or contact your health centre directly.",
        "ar": "إذا كانت بياناتك الشخصية محمية، اتصل بالرقم 1177 أو تواصل مع مركزك الصحي مباشرة.",
        "so": "Haddii xogtaada shakhsiyeed la ilaaliyo, wac 1177 ama si toos ah ula xiriir xarunta caafimaadkaaga.",
        "fa": "اگر اطلاعات شخصی شما محافظت‌شده است، با 1177 تماس بگیرید یا مستقیم با درمانگاه خود تماس بگیرید.",
        "fi": "Jos henkilötietosi ovat suojattuja, soita 1177 tai ota suoraan yhteyttä terveyskeskukseesi.",
    },
    "region_not_served": {
        "sv": "Din region har inte den här tjänsten. Ring 1177 eller gå till 1177.se för din region.",
        "en": "Your region does not offer this service. Call 1177 or visit 1177.se for your region.",
        "ar": "منطقتك لا تقدم هذه الخدمة. اتصل بالرقم 1177 أو زر 1177.se لمنطقتك.",
        "so": "Gobolkaagu ma bixiyo adeegan. Wac 1177 ama booqo 1177.se si aad u hesho gobolkaaga.",
        "fa": "منطقه شما این خدمت را ارائه نمی‌دهد. با 1177 تماس بگیرید یا برای منطقه خود به 1177.se بروید.",
        "fi": "Alueesi ei tarjoa tätä palvelua. Soita 1177 tai katso alueesi tiedot osoitteesta 1177.se.",
    },
    "not_in_register": {
        "sv": "Vi hittar dig inte i folkbokföringen. Ring 1177.",
        "en": "We could not find you in the population register. Call 1177.",
        "ar": "لم نجدك في سجل السكان. اتصل بالرقم 1177.",
        "so": "Kuma aanan helin diiwaanka dadweynaha. Wac 1177.",
        "fa": "شما را در ثبت احوال پیدا نکردیم. با 1177 تماس بگیرید.",
        "fi": "Emme löytäneet sinua väestörekisteristä. Soita 1177.",
    },
    "not_guardian": {
        "sv": "Du är inte vårdnadshavare för det här barnet enligt folkbokföringen.",
        "en": "You are not registered as this child's guardian.",
        "ar": "أنت غير مسجل كولي أمر لهذا الطفل.",
        "so": "Looma diiwaan gelin inaad tahay waalidka ilmahan.",
        "fa": "شما به‌عنوان سرپرست این کودک ثبت نشده‌اید.",
        "fi": "Et ole rekisteröity tämän lapsen huoltajaksi.",
    },
    "child_too_young": {
        "sv": "Barn under ett år får inte hjälp här. Ring 1177.",
        "en": "Children under one year are not helped here. Call 1177.",
        "ar": "لا يتلقى الأطفال دون سن السنة المساعدة هنا. اتصل بالرقم 1177.",
        "so": "Carruurta ka yar hal sano halkan laguma caawiyo. Wac 1177.",
        "fa": "به کودکان زیر یک سال اینجا کمک نمی‌شود. با 1177 تماس بگیرید.",
        "fi": "Alle vuoden ikäisiä lapsia ei auteta täällä. Soita 1177.",
    },
    "child_too_old": {
        "sv": "Från 13 år loggar barn in själva, med sin egen e-legitimation.",
        "en": "From 13, children log in themselves with their own e-ID.",
        "ar": "من سن 13، يسجل الأطفال الدخول بأنفسهم بهويتهم الإلكترونية الخاصة.",
        "so": "Laga bilaabo 13 jir, carruurtu iyagaa is galiya iyagoo isticmaalaya aqoonsigooda elektaroonigga ah.",
        "fa": "از ۱۳ سالگی، کودکان خودشان با شناسه الکترونیکی خودشان وارد می‌شوند.",
        "fi": "13 vuodesta alkaen lapset kirjautuvat itse omalla e-tunnisteellaan.",
    },
    "protected_guardianship": {
        "sv": "Du kan inte göra ärenden för barnet när någon av er har skyddade personuppgifter. Ring 1177 eller kontakta din vårdcentral.",
        "en": "Acting for a child is not possible when the child or the guardian has protected personal data. Call 1177 or contact your health centre.",
        "ar": "لا يمكن التصرف نيابة عن الطفل عندما تكون بيانات الطفل أو ولي الأمر محمية. اتصل بالرقم 1177 أو تواصل مع مركزك الصحي.",
        "so": "Looma dhaqmi karo ilmo magaciis marka ilmaha ama waalidka xogtooda la ilaaliyo. Wac 1177 ama la xiriir xarunta caafimaadkaaga.",
        "fa": "وقتی اطلاعات کودک یا سرپرست محافظت‌شده است، نمی‌توانید به جای کودک اقدام کنید. با 1177 تماس بگیرید یا با درمانگاه خود تماس بگیرید.",
        "fi": "Lapsen puolesta ei voi asioida, jos lapsen tai huoltajan tiedot ovat suojattuja. Soita 1177 tai ota yhteyttä terveyskeskukseesi.",
    },
    "not_staff": {
        "sv": "Du finns inte med i listan över personal.",
        "en": "You are not in the staff catalogue.",
        "ar": "أنت غير موجود في قائمة الموظفين.",
        "so": "Kuma jirtid liiska shaqaalaha.",
        "fa": "شما در فهرست کارکنان نیستید.",
        "fi": "Et ole henkilökunnan luettelossa.",
    },
    "failed": {
        "sv": "Inloggningen blev inte klar. Börja om.",
        "en": "The login did not complete. Start a new login.",
        "ar": "لم يكتمل تسجيل الدخول. ابدأ تسجيل دخول جديدًا.",
        "so": "Galitaanku ma dhammaystirmin. Bilow mid cusub.",
        "fa": "ورود کامل نشد. دوباره وارد شوید.",
        "fi": "Kirjautuminen ei onnistunut. Aloita uusi kirjautuminen.",
    },
}
