"""Spot search queries that describe a possible medical emergency.

A query such as "crushing chest pain spreading to my jaw" or "my toddler swallowed some
pills" must show a prominent banner telling the person to call their emergency number.
The web page and the CLI both call `detect_emergency`.

Rules, applied consistently:

* A query alerts when it *describes* symptoms or a situation, or says someone is having
  the event now ("i think im having a stroke"). A bare condition name or a question about
  one ("what is a heart attack", "symptoms of stroke", "how to prevent heart attack") does
  not, unless it also carries an urgent word ("now", "help", "911").
* Common symptoms (chest pain, headache, bleeding, stiff neck) alert only together with
  a red-flag qualifier; a qualifier just after a negation ("no vomiting") does not count.
* Self-harm language always alerts, even in questions: a crisis line never hurts.
* Queries about an animal ("my dog ate chocolate") do not alert.

All patterns live in `_SPEC`, a small table language read once at import time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 2000
EMERGENCY_MESSAGE = (
    "This may be a medical emergency. Call your local emergency number (such as 911 or 112) now."
)
CRISIS_MESSAGE = (
    "If you are thinking about harming yourself, call or text 988 (US) or your local crisis line now,"
    " or call your local emergency number."
)

# The category table. Queries are normalised first (lowercase ASCII words and digits,
# single spaces, apostrophes dropped: "can't" -> "cant"), so patterns stay simple.
#   <name> = regex      a shared fragment, usable later as <name>
#   [kind]              starts a category; categories are tried in this order
#   + regex             alerts on its own
#   & regex && regex    a combination: every part must match, and not after a negation
#   - regex             a benign phrase, removed before this category is matched
# A line indented by four spaces continues the line above, joined without a space, so
# break lines just before a "|" (or write \s where the break needs a space).
# Keep quantified parts bounded and delimited by spaces: no nested open-ended repeats.
_SPEC = r"""
<w1> = (?:\w+ )?
<w2> = (?:\w+ ){0,2}
<w3> = (?:\w+ ){0,3}
<w4> = (?:\w+ ){0,4}
<w5> = (?:\w+ ){0,5}
<q5> = (?:(?!(?:and|then|but|took|takes|with|for) )\w+ ){0,5}
<cant> = cant|cannot|can not|couldnt|could not|unable to|not able to|struggling to
<br> = br[ea]{1,2}t?h\w*
<stop> = (?:wont|will not|doesnt|does not|didnt|isnt|not|cant|cannot|wouldnt|hasnt|never) <w3>stop\w*
    |keeps? going|still going
<vomit> = vom+it\w*|throw\w* up|threw up|puk\w*|being sick
<conf> = (?:confus\w*|disorient\w*)\b(?! (?:about|by|whether|if|which|why|how))|not making sense|delirious
    |incoheren\w*|talking nonsense
<kid> = child|children|kids?|toddler|bab(?:y|ies)|son|daughter|boy|girl|grand(?:son|daughter)|infant|niece
    |nephew|\d+ ?(?:year|yr|month|mo)s? old|\d+ ?yo
<pills> = pil+s?|tablets?|tabs|meds|medic(?:ine|ation)s?|capsules?|paracetamol|tylenol|acetaminophen
    |ibuprofen|advil|aspirin|insulin|xanax|oxy(?:contin|codone)?|opioids?|fentanyl|antidepressants?|vitamins?
    |gumm(?:y|ies)|edibles?|pain ?killers?|benadryl
<seiz> = s(?:ei|ie)z\w*|convuls\w*|epileptic fit
<fever> = fev[ae]r\w*|high temp\w*|(?:a|high) temperature|temperature of (?:10[0-6]|3[89]|4[01])|febrile
    |burning up|(?:10[1-6]|39|40|41) (?:\d )?(?:f|c|degrees)
<blood_benign> = \bblood (?:pressure|sugar|tests?|work|draw|drawn|donation|type|count|glucose|thinners?)
<informational> = ^(?:(?:what|which) (?:are|is) (?:the )?(?:(?:early|warning|common|first) )?(?:signs?
    |symptoms?|causes?|risk factors?)|(?:(?:early|warning|common|first) )?(?:signs?|symptoms?|causes?
    |risk factors?) (?:of|for)\b|how (?:to|do you|do i|can you|can i|can we) (?:prevent|avoid|reduce|lower
    |recogni[sz]e|spot|identify))
<urgent> = \b(?:right now|now|help|911|999|112|hurry|please|emergency|happening)\b
<animal> = \b(?:my|our|the) (?:dog|cat|puppy|kitten|pet|horse|rabbit|bunny|hamster|parrot|bird
    |ferret)s? (?:ate|eaten|has eaten|swallowed|drank|licked|chewed|got into|is|was|has|had|keeps|seems
    |just)\b
<human> = \b(?:me|myself|<kid>|husband|wife|mom|mum|mother|dad|father|friend|brother|sister|partner|grandma
    |grandpa|boyfriend|girlfriend|man|woman|person|someone|somebody)\b

[self_harm]
+ \b(?:suicid|sucid|suicd|suisid|suicde|suiside|sucide)\w*|\bkms\b|\bunaliv\w*|\bself ?(?:harm|injur)\w*
+ \b(?:kill\w*|kil|off|hang\w*|end|ending|drown\w*|poison\w*|harm\w*) (?:my ?self|meself)\b
+ \b(?:want|wanna|going|gonna|thinking|think|thoughts|urges?|tempted|plan\w*|feel like|been
    |keep)\s<w2>(?:hurt|hurting|cut|cutting|burn|burning|starv\w*) (?:my ?self|meself)\b
+ \b(?:want|wanna|wanting|wish|wished|ready|going|gonna|plan\w*|deserve) <w2>(?:to )?die\b
+ \b(?:wish|wished|rather|better off) <w3>(?:dead|never born|not alive|wasnt alive|without me)
+ \bdont (?:want|wanna) (?:to )?(?:live|be alive|exist|be here any ?more|go on)\b
+ \bdont (?:want|wanna) (?:to )?wake up\b(?! (?:early|at|for|so))|\bdisappear (?:forever|for good)
+ \b(?:no|nothing|no point|no reason) <w2>(?:to live|living|to go on|to keep going|to be alive)\b
+ \b(?:isnt|not|aint|no longer) worth living|\bpoint (?:in|of) (?:living|life|going on|being alive)\b
    |\bcant (?:go on|keep going|live) (?:any ?more|like this)
+ \b(?:end|ending|take|taking) (?:my|his|her|their) (?:own )?life\b|\b(?:end|ending) (?:it all|everything)\b
+ \bwant (?:it all|everything|my life|life) to (?:end|stop|be over)|\bwant it (?:all )?to end
    |\bend it (?:tonight|today|now|soon)\b
+ \b(?:how|what) <w5>(?:to|would|will) (?:die|kill (?:me|myself|you|a person|someone)|overdose)\b
+ \blethal dose|\bpainless (?:way|death)|\bways? to die\b|\bhow to (?:die|hang)\b
+ \bcut\w* (?:my |his |her )?wrists?|\bslit\w* <w1>wrists?
+ \bjump\w* (?:off|from|in front of) <w1>(?:bridge|building|roof|cliff|train|balcony)
- \bsuicide squad|\b(?:dont|do not) (?:want|wanna) (?:to )?die\b|\bwrists? on\b
- \b(?:cut\w*|burn\w*|hurt\w*) my ?self (?:shaving|cooking|chopping|on|with|at|lifting|while|by)\b

[overdose_poisoning]
+ \b(?:overdos(?:ed|ing)|oded)\b|\b(?:took|taken|had|having|accidental\w*) (?:an )?overdose\b
+ \b(?:took|taken|take|swallowed|ate|eaten|had|popped|downed|drank) <w2>(?:way )?(?:too many|too much|(?:a
    |the) (?:whole|full|entire) (?:bottle|packet|pack|box|strip)|handful|bunch|lots|loads|dozens?
    |all (?:of )?(?:my|his|her|the|their))\b <w2><pills>
+ \b(?:took|taken|swallowed|ate|had|popped) <w2>(?:[1-9]\d|\d{3,}) (?!mg|mcg|ml|g\b|iu)<w1><pills>
+ \b<kid>s? <w3>(?:ate|eaten|swallowed|drank|got into|chewed|licked|found) <q5><pills>
+ \b(?:swallowed|drank|drunk|ate|eaten|ingested|licked|chewed|sucked on|swigged|gulped
    |got into) <w3>(?:bleach|detergent|(?:laundry|tide|dishwasher|washing) (?:pods?|tablets?|capsules?)
    |anti ?freeze|rat poison|poison\w*|pesticides?|insecticide|weed ?killer|lamp oil|kerosene|gasoline|petrol
    |paint thinner|(?:drain|oven|toilet|window) cleaner|cleaning (?:product|fluid|spray)s?
    |nail polish remover|lighter fluid|ammonia|(?:wild|poisonous) mushrooms?|e ?liquid|vape (?:juice|liquid)
    |nicotine|hand sanitizer|rubbing alcohol|isopropyl|(?:windshield|washer) fluid|methanol|lye|chlorine)
+ \bswallowed <w2>(?:batter(?:y|ies)|magnets?)\b|\b(?:gave|give|giving|used|need) <w2>(?:narcan|naloxone)
+ \b(?:have|has|having|got|think) <w2>(?:alcohol|carbon monoxide) poisoning
+ \b(?:carbon monoxide|co) (?:alarm|detector) (?:is |keeps |just )?(?:going off|went off|sounding)
& \bcarbon monoxide|\bco (?:alarm|detector)|\bgas leak|\bsmell <w1>gas|\bfumes
    && \bdizz\w*|\bhead ?ach\w*|\bnause\w*|<vomit>|<conf>|\bfaint\w*|\bpassed out|\bdrows\w*
- \b(?:food|sun|lead|blood) poisoning|\bpoison (?:ivy|oak|sumac)|\bswallowed <w1>(?:pill|tablet
    |vitamin)s? whole
- \boverdos\w* on (?:coffee|caffeine|sugar|candy|carbs|junk food|netflix|tv|chocolate|sun\w*|love)

[anaphylaxis]
+ \bthroat <w4>(?:clos(?:ing|ed|es)|shut\w*)|\b(?:having|going into|in|into) (?:an )?(?:anaph?[ay]l\w*
    |allergic shock)
+ \b(?<!how to )(?<!learn to )(?:used|use|using|gave|give|giving|injected|inject|jabbed)\s<w2>(?:epi ?pens?
    |epinephrine|adrenaline|auvi ?q)
& \b(?:throat|tongue|lips?|mouth|airway) <w2>(?:swell\w*|swollen|puff\w*|tight\w*)|\bswell\w* <w2>(?:throat
    |tongue|lips?)|\bswollen (?:throat|tongue|lips?)|<cant> (?:swallow|<br>)
    && \b(?:after|since) <w2>(?:eat\w*|ate|took|taking|sting|stung|bite|bitten|trying)|\bpeanuts?|\bnuts?\b
    |\bshellfish|\bshrimp|\bprawns?|\bsesame|\bbee\b|\bwasp|\bhornet|\bstung|\bsting\b|\ball?erg\w*
    |\bpenicillin|\bamoxicillin|\bantibiotics?|\bnew (?:medication|medicine|drug)|\breaction

[unresponsive]
+ \bunrespon\w*|\buncon(?:s|sc)?ious\b|\bunconcious\b|\bno pulse|\b(?:in|into|having) cardiac arrest
+ \b<cant> (?:wake|rouse) (?:him|her|them|my \w+|the \w+|mom|mum|dad)\b(?: up)?+(?! (?:for|in the|on time
    |early|until|till|at|when|before|after|up|to))
+ \b(?:he|she|they|baby|mom|mum|dad|son|daughter|husband|wife|friend|child|kid|grandma|grandpa|partner
    |boyfriend|girlfriend|brother|sister|toddler|someone|somebody|man|woman|father|mother
    |teen\w*) <w3>(?:wont|will not|isnt|is not|not|cant be) (?:wak\w*|rous\w*|woken)\b(?: up)?+(?! (?:for
    |in the|on time|early|until|till|at|when|before|after|up|to))
+ \b(?:not|isnt|wont|doesnt) respond\w*(?: at all| to (?:me|us|anything|touch|pain|voice|shaking))?\b(?! to)
+ \b(?:not|isnt|is not|stopped|has stopped|quit|arent|wasnt|no longer) <br>\b(?! <w4>(?:nose|nostrils?))
+ \bheart (?:has )?stopped\b(?! me)|\b(?:doing|giving|started|start|starting|performing) cpr\b
+ \bcollaps(?:ed|es|ing)\b|\b(?:baby|infant|newborn|toddler) <w2>(?:floppy|limp)\b
- \bunconscious (?:bias|mind|thoughts?)|\blike <w2>heart stopped|\b(?:nearly|almost) collapsed
- \bcollapsed (?:arch\w*|discs?|veins?|trachea|bladder|lung (?:recovery|surgery|treatment|symptoms|causes))
    |\b(?:arch|arches|disc|vein)s? <w2>collaps\w*
- \b(?:stops?|stopped|stopping|pauses?|paused) <br> <w3>(?:sleep\w*|night|snor\w*)

[pregnancy_bleeding]
+ \b(?:think|might|could|maybe|possibly) <w3>ectopic
& \bpregn\w*|\bpreg\b|\bmiscarr\w*
    && \bble+d\w*|\bblood\w*
    && \b(?:severe|bad|sharp|intense|excruciating|unbearable|worst|horrible|terrible|extreme
    |agoni[sz]ing) <w3>(?:pain|cramp\w*|ache)|\bpain <w2>(?:severe|unbearable|excruciating|so bad)
    |\bcant stand the pain
& \bpregn\w*|\bpreg\b|\bmiscarr\w*
    && \bheav\w* <w1>bleed\w*|\bbleed\w* <w2>heav\w*|\bsoak\w*|\b(?:large|big|huge) clots
- \bbleeding gums|\bgums? <w2>bleed\w*

[head_injury]
& \b(?:hit|hitting|bang\w*|bump\w*|smack\w*|knock\w*|struck|whack\w*|slam\w*) <w2>head\b|\bhead (?:injur\w*
    |trauma|wound|knock|bump)|\bf[ae]ll <w5>head\b|\bconcuss\w*|\bknocked (?:out|unconscious)
    && <vomit>|<conf>|\bdrows\w*|\bsleepy|\bcant stay awake|\bhard to wake|\bseiz\w*|\bconvuls\w*|\bpupils?\b
    |\bblood <w3>(?:ears?|nose)|\bclear (?:fluid|liquid)|\bknocked (?:out|unconscious)|\bunconscious
    |\bpassed out|\bblacked out|\blost consciousness|\bslurr\w*|\bcant remember|\bmemory loss|\bdouble vision
    |\bwont stop crying|\bnot (?:acting )?(?:himself|herself|themselves)
- \bknocked out <w2>(?:tooth|teeth)

[heatstroke]
+ \b(?:left|locked|stuck|forgot\w*) <w3>in (?:a |the )?hot car
+ \b(?:having|has|think <w3>(?:has|have|got)) (?:a )?(?:heat|sun) ?stroke
& \bheat ?stroke|\bsun ?stroke|\bheat exhaustion|\boverheat\w*|\bin the (?:heat|sun)|\bhot (?:car|weather
    |day)|\bheat ?wave|\bhypertherm\w*|\bsauna\b
    && <conf>|\bslurr\w*|\bpassed out|\bcollaps\w*|\bunconscious|\bunrespon\w*|<seiz>|\b(?:stopped|not|isnt
    |no longer) sweat\w*|\bhot (?:and )?dry skin|\b(?:10[4-9]|4[0-2]) (?:\d )?(?:f|c|degrees)

[diabetic]
+ \b(?:in|having|going into) (?:dka|diabetic ketoacidosis)
& \bdiabet\w*|\bblood (?:sugar|glucose)|\bsugar (?:levels?|is|was|reading|dropped|crashed)|\bglucose
    |\binsulin|\bhypo\b|\bhypoglyc\w*|\bbg\b|\bt1d\b|\btype 1\b
    && <conf>|\bslurr\w*|\bpassed out|\bunconscious|\bunrespon\w*|<cant> (?:wake|swallow)|\bwont wake|<seiz>
    |\b(?:very|really|super|dangerously|extremely|way) low\b|\bfruity (?:breath|smell)|\bdka\b|\bketoacidosis
    |\bhard to wake|\bacting (?:drunk|strange|weird)

[heart_attack]
+ \b(?:having|going through|in the middle of) (?:a |an )?(?:heart ?at+ack|cardiac event)\b
+ \b(?:think|might|maybe|possibly|could) <w3>(?:had|having) (?:a |an )?heart ?at+ack
+ \bheart ?at+ack (?:right )?now\b|\bis (?:this|it) a heart ?at+ack
& \bchest <w2>(?:pain\w*|hurt\w*|ache\w*|aching|tight\w*|pressure|heav\w*|discomfort|squeez\w*|crush\w*)
    |\b(?:pain|pressure|tightness|heaviness|squeezing|discomfort) <w2>(?:in|on|across) <w1>chest
    && \b(?:spread\w*|radiat\w*|going|goes|moving|moves|shoot\w*|travel\w*) <w3>(?:arms?|jaw|neck|back
    |shoulders?)|\b(?:left|both) arms?\b|\bjaw\b|\bsweat\w*|\bclammy|\bcrush\w*|\bsqueez\w*|\bpressing
    |\blike <w3>(?:weight|elephant|vice|vise|band|sitting on)|\bnause\w*|<vomit>|\bdizz\w*|\blight ?headed
    |\bfaint\w*|\bpassed out|\bshort(?:ness)? of <br>|<cant> <br>|\bbreathless|\bsevere|\bworst|\bexcruciating

[stroke]
+ \b(?:face|mouth|smile|lips?) <w3>(?:droop\w*|dropping|sag\w*|lopsided|crooked|uneven|paraly\w*)
+ \bdroop\w* <w2>(?:face|mouth|smile|lip)|\bone side of <w2>(?:face|mouth|body) <w3>(?:droop\w*|sag\w*|numb
    |weak\w*|paraly\w*|not moving|dead|limp)
+ \b(?:weak\w*|numb\w*|paraly\w*|limp|cant move|cant feel) <w4>(?:on |down )?(?:one
    |(?:the |my |his |her )?(?:left|right)) side\b|\bone sided (?:weakness|numbness|paralysis)
+ \b(?:one|left|right) side (?:of (?:my |his |her |the )?(?:body
    |face) )?(?:is |has |went |gone |feels |felt )?(?:weak\w*|numb\w*|paraly\w*|dead|limp)\b
    |\barm <w2>(?:drift\w*|droop\w*)
+ \bsudden\w* <w2>(?:weak\w*|numb\w*|paraly\w*|cant (?:move|feel|lift|use)) <w3>(?:arm|leg|hand|face|side
    |foot)s?\b
+ \bslurr\w*|\b<cant> (?:talk|speak) (?:properly|right|clearly|normally|straight)|\bcant get <w1>words out
    |\b(?:speech|words) <w2>(?:garbled|jumbled|gibberish)|\btalking gibberish
+ \bsudden\w* <w3><conf>|<conf> <w3>sudden\w*
+ \bsudden\w* <w3>(?:los[st]\w*|loss of|blind\w*|cant see|double vision)|\b(?:went|gone) blind\b
+ \b(?:lost|losing|loss of|lose) <w2>(?:vision|sight|eyesight) (?:in|on|out of) <w2>eye
+ \bhaving (?:a |another )?(?:mini )?stroke\b|\bstroke (?:right )?now\b|\bis (?:this|it) a stroke\b
+ \b(?:think|might|maybe|possibly|could) <w3>(?:having|had) (?:a |another )?(?:mini )?stroke\b
& \bhead ?ach\w*|\bmigraine\w*|\bhead <w1>(?:pain|hurts?|hurting|pounding)|\bpain in <w1>head
    && \bworst <w4>(?:ever|life|of my)|\bthunderclap|\blike <w3>(?:hit|struck|exploded|bomb|bat|hammer)
    |\bexplod\w*|\bsudden\w* <w2>(?:severe|intense|excruciating|blinding|agoni[sz]ing|explosive|worst)
    |\b(?:severe|intense|excruciating|blinding) <w3>sudden\w*|<conf>|\bslurr\w*|\bcant see|\bpassed out
- \bnumb\w* <w4>(?:after|from) (?:the |a |my )?(?:dentist|dental|filling|injection|novocaine|anesthetic
    |root canal)
- \b(?:drunk|drinking|alcohol|wasted) <w3>slurr\w*|\bslurr\w* <w3>(?:drunk|drinking|alcohol)

[breathing]
+ \b<cant> (?:<br>|get (?:any |enough )?air)\b(?! <w4>(?:nose|nostrils?))
+ \bgasping (?:for )?(?:air|<br>)|\bstruggling (?:to|for) (?:<br>|air)|\bchoking\b
+ \b(?:lips?|face|mouth|tongue) <w2>(?:blue|bluish)\b|\b(?:blue|bluish) (?:lips|face)\b
+ \b(?:baby|he|she|child|son|daughter|toddler|infant|they) <w2>(?:turning|turned|going|gone) (?:blue|purple
    |grey|gray)\b
+ \b<cant> (?:speak|talk|say) (?:in )?(?:full |whole |more than (?:a few|one|two) )(?:sentences?|words)
& \bwheez\w*|\bshort(?:ness)? of <br>|\bbreathless|\bout of <br>|\b(?:hard|trouble|difficult\w*) <w1><br>
    |\blabou?red <br>|\b<br> (?:really |very |so )?(?:fast|rapid|hard)\b|\basthma attack
    && \bsevere|\binhaler <w3>(?:not|isnt|wont|doesnt|didnt|no) (?:help|work)\w*|\bnot helping|\bcant (?:talk
    |speak|walk)|\bsucking in|\bretraction|\bgrunting|\bflaring|\bblue|\bdrows\w*|<conf>|\bsudden\w*
- \b(?:nose|nostrils?|sinus\w*|congest\w*|stuffy|stuffed up) <w4><cant> <br>
- \bchoking (?:hazards?|game|sensation|feeling)|\bchoking <w3>(?:saliva|spit)|\b(?:feel\w*
    |sensation) <w3>choking
- \b(?:keep|keeps|kept|always|often|sometimes) choking

[seizure]
+ \b<seiz> <w4>(?:<stop>|not stopping|one after (?:another|the other)|back to back)
+ \b<seiz> <w5>(?:(?:for|over|more than|longer than|past|almost|nearly|about|at least) )?(?:[5-9]|[1-9]\d
    |five|six|seven|eight|nine|ten|fifteen|twenty|thirty) ?(?:min\w*|mins)\b
+ \b(?:first|1st|never had a) (?:ever )?<w1><seiz>\b(?! (?:symptoms|signs))
+ \bhaving (?:a |another )?<w1>(?:seizure|siezure|convulsion)s?\b
+ \b(?:is|started|keeps|still) (?:seizing|siezing|convulsing|fitting)\b
+ \b<seiz> <w4>(?:not|hasnt|isnt|wont|didnt) (?:wak\w*|<br>|respond\w*|regain\w*)
- \bs(?:ei|ie)z\w* up\b|\bseized (?:assets|property|by)

[meningitis]
+ \brash <w4>(?:doesnt|does not|dont|wont|didnt|not|isnt) <w1>(?:fade|blanch\w*|disappear|go away
    |turn white)(?: \w+){0,2} (?:glass|press\w*|push\w*)
+ \b(?:glass|tumbler) test\b|\bnon ?blanch\w*|\bdoesnt blanch
+ \b(?:have|has|having|think|could|might|maybe|possibly) <w2>mening\w*
& \bstiff <w1>neck|\bneck <w2>(?:stiff\w*|rigid)|<cant> (?:bend|move|touch) <w2>(?:neck|chin) && <fever>
& <fever> && \bpurple <w1>(?:rash|spots|blotches)|\bpetechia\w*|\bpin ?prick
& <fever> && \bbulg\w* <w2>(?:soft spot|fontanel\w*)|\b(?:soft spot|fontanel\w*) <w2>bulg\w*

[bleeding]
+ \b(?:been|was|got|just|being) stabbed\b|\bstab wound|\bgunshot (?:wound|victim)|\b(?:been|was|got
    |just been) shot\b
+ \b(?:finger|thumb|toe|hand|foot|ear)s? <w2>(?:cut|chopped|sliced|severed|came|ripped) off\b
+ \b(?:cut|chopped|sliced|severed|ripped|tore) <w2>(?:finger|thumb|toe|hand|foot|ear)s? off\b
& \bble+d\w*|\bblood\w*|\bnose ?bleed\w*|\bha?emorrhag\w*
    && <stop>|\bspurt\w*|\bgush\w*|\bpour\w*|\bsquirt\w*|\b(?:pumping|pulsing) out|\bsoak\w*|\b(?:so much
    |a lot of|lots of|loads of|tons of) blood|\beverywhere\b|\bwont clot|\bbleed\w* (?:a lot|so much|heavily
    |profusely|badly)
- <blood_benign>|\blike <w3>stabbed
- \b(?:period|menstrua\w*|spotting) <w4>(?:heav\w*|<stop>|bleed\w*)|\bheav\w* <w2>(?:period|menstrua\w*)

[internal_bleeding]
+ \b<vomit> <w3>blood|\bblood in <w1>(?:vomit|sick|puke)|\bcoffee grounds? <w2>(?:vomit|sick|puke)
+ \b<vomit> <w4>coffee grounds?|\bha?ematemesis|\bha?emoptysis
+ \bcough\w* (?:up )?<w3>blood\w*|\bblood <w3>(?:when|while|after) (?:i |he |she )?cough\w*
& \b(?:black|tarry|tar like|maroon) <w2>(?:stools?|poop|poo|bowel movements?|feces|faeces|diarrh\w*)
    |\b(?:stools?|poop|poo|feces) <w2>(?:black|tarry|like tar)
    && \bdizz\w*|\blight ?headed|\bfaint\w*|\bpassed out|\bcollaps\w*|\bcant stand|\bpale\b|\bheart <w1>racing
- <blood_benign>

[abdominal]
& \b(?:stomach|abdomen|abdominal|belly|tummy)\b <w3>(?:rigid|hard as (?:a )?(?:board|rock)|board ?like)
    |\b(?:rigid|board ?like) <w1>(?:stomach|abdomen|belly|tummy)\b
    && \bpain\w*|\bhurts?|\bache|\btender|\bagony
& \b(?:sudden\w*|severe|excruciating|unbearable|agoni[sz]ing|worst|extreme) <w3>(?:stomach|abdomen|abdominal
    |belly|tummy)\b
    && \bcant (?:move|stand up|straighten)|\bpassed out|\bfaint\w*|\bcollaps\w*

[burns]
+ \b(?:third|3rd|fourth|4th) degree burns?|\bfull thickness burns?|\bsevere burns?\b|\bcharred skin
+ \b(?:clothes|clothing|hair|pyjamas|pajamas) <w2>(?:on fire|caught fire)|\bcaught (?:on )?fire
+ \belectric(?:al)? burns?\b
& \b(?:burn|burns|burned|burnt|scald|scalds|scalded)\b
    && \b(?:whole|entire|all over|most of|large (?:area|part))\b|\b(?:bigger|larger) than <w2>(?:hand|palm)
    |\bcharred|\bleathery|\bhouse fire
"""


@dataclass(frozen=True)
class EmergencyAlert:
    """A banner to show above search results.

    Attributes:
        kind: Category of emergency, e.g. "heart_attack", "stroke" or "self_harm".
        message: Plain-language instruction to show the person.
    """

    kind: str
    message: str


@dataclass(frozen=True)
class _Rule:
    """One compiled category of `_SPEC`."""

    kind: str
    patterns: tuple[re.Pattern[str], ...]
    combos: tuple[tuple[re.Pattern[str], ...], ...]
    benign: tuple[re.Pattern[str], ...]


_NEGATORS = frozenset(
    {"no", "not", "without", "never", "nor", "denies", "isnt", "wasnt", "hasnt", "didnt", "dont"}
)
_CLAUSE_BREAKS = frozenset({"but", "and", "with", "plus", "now", "then", "also"})
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_OD = re.compile(r"\bod'(?:d|ed)\b")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"<(\w+)>")


def _spec_lines(spec: str) -> list[str]:
    """Return the logical lines of a spec, joining indented continuation lines."""
    lines: list[str] = []
    for raw in spec.splitlines():
        if raw.startswith("    ") and lines:
            lines[-1] += raw.strip()
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _expand(pattern: str, fragments: dict[str, str]) -> str:
    """Replace <name> tokens with their fragment, wrapped in a non-capturing group."""
    return _TOKEN.sub(lambda m: f"(?:{fragments[m.group(1)]})", pattern)


def _parse_spec(spec: str) -> tuple[dict[str, str], dict[str, dict[str, list[str]]]]:
    """Split a spec into expanded fragments and, per category, its +, & and - lines."""
    fragments: dict[str, str] = {}
    categories: dict[str, dict[str, list[str]]] = {}
    for line in _spec_lines(spec):
        if line.startswith("<"):
            name, _, body = line.partition(" = ")
            fragments[name.strip("<>")] = _expand(body, fragments)
        elif line.startswith("["):
            current = categories.setdefault(line.strip("[]"), {"+": [], "&": [], "-": []})
        else:
            current[line[0]].append(_expand(line[2:], fragments))
    return fragments, categories


def _build_rules(categories: dict[str, dict[str, list[str]]]) -> tuple[_Rule, ...]:
    """Compile parsed categories into rules, keeping the table's priority order."""
    return tuple(
        _Rule(
            kind=kind,
            patterns=tuple(re.compile(p) for p in parts["+"]),
            combos=tuple(tuple(re.compile(p.strip()) for p in combo.split("&&")) for combo in parts["&"]),
            benign=tuple(re.compile(p) for p in parts["-"]),
        )
        for kind, parts in categories.items()
    )


_FRAGMENTS, _CATEGORIES = _parse_spec(_SPEC)
_RULES = _build_rules(_CATEGORIES)
_INFORMATIONAL, _URGENT, _ANIMAL, _HUMAN = (
    re.compile(_FRAGMENTS[name]) for name in ("informational", "urgent", "animal", "human")
)


def _normalise(query: str) -> str:
    """Lowercase, fold quotes, drop apostrophes and punctuation, squeeze spaces."""
    text = unicodedata.normalize("NFKC", query[:MAX_QUERY_CHARS]).lower().translate(_QUOTES)
    text = _OD.sub("overdosed", text)
    return _NON_WORD.sub(" ", text.replace("'", "")).strip()


def _negated(text: str, start: int) -> bool:
    """Return True if the words just before `start` negate the match ("no vomiting")."""
    for word in reversed(text[max(0, start - 40) : start].split()[-3:]):
        if word in _CLAUSE_BREAKS:
            return False
        if word in _NEGATORS:
            return True
    return False


def _affirmed(pattern: re.Pattern[str], text: str) -> bool:
    """Return True if `pattern` matches somewhere in `text` without being negated."""
    return any(not _negated(text, m.start()) for m in pattern.finditer(text))


def _rule_matches(rule: _Rule, text: str) -> bool:
    """Return True if `text` triggers `rule` once the rule's benign phrases are removed."""
    for benign in rule.benign:
        text = benign.sub(" . ", text)
    text = " ".join(text.split())
    if any(p.search(text) for p in rule.patterns):
        return True
    return any(all(_affirmed(p, text) for p in combo) for combo in rule.combos)


def _guarded(text: str) -> bool:
    """Return True for informational or animal queries, on which only self-harm may alert."""
    if _INFORMATIONAL.search(text) and not _URGENT.search(text):
        return True
    return bool(_ANIMAL.search(text)) and not _HUMAN.search(_ANIMAL.sub(" ", text))


def detect_emergency(query: str) -> EmergencyAlert | None:
    """Detect a search query that describes a possible medical emergency.

    Args:
        query: Raw text typed into the search box; only the first 2,000 characters are read.

    Returns:
        An `EmergencyAlert` naming the category and the message to show, or None when the
        query does not describe an emergency. Never raises.
    """
    if not isinstance(query, str):
        return None
    text = _normalise(query)
    if not text:
        return None
    guarded = _guarded(text)
    for rule in _RULES:
        if (rule.kind == "self_harm" or not guarded) and _rule_matches(rule, text):
            message = (
                f"{EMERGENCY_MESSAGE} {CRISIS_MESSAGE}" if rule.kind == "self_harm" else EMERGENCY_MESSAGE
            )
            return EmergencyAlert(kind=rule.kind, message=message)
    return None
