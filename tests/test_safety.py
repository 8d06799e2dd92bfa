"""Tests for healthsearch.safety.detect_emergency."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from healthsearch.errors import SafetyDataError
from healthsearch.safety import (
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    SUPPORT_MESSAGE,
    EmergencyAlert,
    detect_emergency,
    pattern_kind,
    support_message,
)
from healthsearch.safety_spelling import correct_spelling, expand_shorthand, load_shorthand

# (query as people type it, expected kind)
POSITIVES = [
    ("crushing chest pain spreading to my jaw", "heart_attack"),
    ("my wifes chest feels like its in a vice and shes being sick", "heart_attack"),
    ("ate a sesame bagel and my throat feels tight and my voice is hoarse", "anaphylaxis"),
    ("covered in hives everywhere after the jab and my chest is tight", "anaphylaxis"),
    ("cut my leg on glass its a deep gash and you can see the fat", "bleeding"),
    ("dad took his blood pressure pills twice by mistake now hes dizzy and confused", "overdose_poisoning"),
    ("i have written goodbye letters to everyone", "self_harm"),
    ("which bridge is high enough to jump", "self_harm"),
    ("son fell off the trampoline and now one pupil is bigger than the other", "head_injury"),
    ("sudden severe pain in my left testicle", "abdominal"),
    ("what to do if someone is choking right now", "breathing"),
    ("chest pain going down my left arm and sweating", "heart_attack"),
    ("chest feels tight like an elephant sitting on it", "heart_attack"),
    ("i think im having a heart attack", "heart_attack"),
    ("CRUSHING   chest pain, sweating!!", "heart_attack"),
    ("jaw pain sweating and pressure in my chest", "heart_attack"),
    ("chest pain and cant breathe", "heart_attack"),
    ("my dad's face is drooping and he can't talk properly", "stroke"),
    ("mom suddenly confused and slurring her words", "stroke"),
    ("sudden weakness in my left arm and leg", "stroke"),
    ("suddenly cant see out of one eye", "stroke"),
    ("worst headache of my life came on suddenly", "stroke"),
    ("my husbands arm is weak on one side and his smile is crooked", "stroke"),
    ("face drooping on one side slurred speech", "stroke"),
    ("lost vision in my left eye suddenly", "stroke"),
    ("lips turning blue cant breathe", "breathing"),
    ("baby choking on a grape", "breathing"),
    ("my son is gasping for air", "breathing"),
    ("asthma attack and inhaler isnt helping", "breathing"),
    ("cant breath", "breathing"),
    ("I can\u2019t breathe", "breathing"),
    ("throat closing after eating peanuts", "anaphylaxis"),
    ("my tongue is swelling after a bee sting", "anaphylaxis"),
    ("should i use my epipen my lips are swelling", "anaphylaxis"),
    ("cant swallow after taking penicillin", "anaphylaxis"),
    ("throat feels like its closing up", "anaphylaxis"),
    ("cut my hand and the bleeding wont stop", "bleeding"),
    ("blood spurting from my leg", "bleeding"),
    ("nosebleed for an hour and it won't stop", "bleeding"),
    ("he got stabbed", "bleeding"),
    ("gunshot wound to the leg", "bleeding"),
    ("i want to kill myself", "self_harm"),
    ("i dont want to be alive anymore", "self_harm"),
    ("theres no reason to live", "self_harm"),
    ("everyone would be better off without me", "self_harm"),
    ("thinking about suicide", "self_harm"),
    ("how many pills would it take to die", "self_harm"),
    ("i keep thinking about ending my life", "self_harm"),
    ("i wanna die", "self_harm"),
    ("kms", "self_harm"),
    ("ive been cutting myself again", "self_harm"),
    ("my toddler swallowed some pills", "overdose_poisoning"),
    ("my wife took a whole bottle of sleeping pills", "overdose_poisoning"),
    ("swallowed bleach by accident", "overdose_poisoning"),
    ("child ate grandmas heart medicine", "overdose_poisoning"),
    ("carbon monoxide alarm going off and everyone has a headache", "overdose_poisoning"),
    ("took 30 tylenol", "overdose_poisoning"),
    ("my friend overdosed", "overdose_poisoning"),
    ("gave him narcan but hes still not breathing", "overdose_poisoning"),
    ("my kid got into the bleach under the sink and drank some", "overdose_poisoning"),
    ("my 2 year old ate laundry pods", "overdose_poisoning"),
    ("swallowed a button battery", "overdose_poisoning"),
    ("i took too many of my antidepressants", "overdose_poisoning"),
    ("my grandpa collapsed and wont wake up", "unresponsive"),
    ("she is unresponsive", "unresponsive"),
    ("baby not breathing", "unresponsive"),
    ("cant wake my dad up", "unresponsive"),
    ("seizure wont stop", "seizure"),
    ("my husband is having a seizure for over 5 minutes", "seizure"),
    ("first seizure ever in my 40s", "seizure"),
    ("stiff neck high fever and a rash", "meningitis"),
    ("purple rash doesnt fade when i press a glass on it", "meningitis"),
    ("baby fever and bulging soft spot", "meningitis"),
    ("hit my head and now im throwing up and confused", "head_injury"),
    ("toddler fell off the bed hit head now very sleepy and vomiting", "head_injury"),
    ("working outside in the heat now confused and not sweating", "heatstroke"),
    ("severe burns all over his arm from a house fire", "burns"),
    ("burned my whole arm with boiling water", "burns"),
    ("sudden severe stomach pain and my belly is rigid", "abdominal"),
    ("vomiting blood", "internal_bleeding"),
    ("coughing up blood", "internal_bleeding"),
    ("black tarry stool and feel dizzy", "internal_bleeding"),
    ("diabetic husband blood sugar very low and confused", "diabetic"),
    ("14 weeks pregnant bleeding and severe cramping", "pregnancy"),
    ("8 weeks pregnant sharp pain and bleeding could it be ectopic", "pregnancy"),
    ("my son ate a bunch of my adhd pills", "overdose_poisoning"),
    ("i think i od'd", "overdose_poisoning"),
    ("i smell gas and feel dizzy", "overdose_poisoning"),
    ("my baby is floppy and wont wake up", "unresponsive"),
    ("i just want it all to end", "self_harm"),
    ("life isnt worth living anymore", "self_harm"),
    ("throwing up what looks like coffee grounds", "internal_bleeding"),
    ("my baby is breathing fast and ribs sucking in", "breathing"),
    ("my arm and leg on the right side went numb suddenly", "stroke"),
    ("my neck is stiff and i have a fever of 103", "meningitis"),
    ("going into anaphylactic shock", "anaphylaxis"),
    ("my lips are swelling after i ate shrimp and i cant breathe", "anaphylaxis"),
    ("kid left in hot car", "heatstroke"),
    ("third degree burn", "burns"),
    ("chest pain no fever but sweating", "heart_attack"),
]

NEGATIVES = [
    "chest pain after lifting weights last week, sore when I press it",
    "what is a heart attack",
    "symptoms of stroke",
    "how to prevent heart attack",
    "signs of a heart attack in women",
    "heart attack recovery diet",
    "i had a heart attack last year, what should i eat",
    "stroke rehabilitation exercises at home",
    "signs of stroke face drooping slurred speech",
    "what does a seizure look like",
    "signs of opioid overdose",
    "my face is dry and flaky",
    "arm numb after sleeping on it",
    "killer headache after a long day at work",
    "migraine with aura",
    "can't breathe through my nose with a cold",
    "short of breath after climbing stairs",
    "can't catch my breath after running",
    "mild wheezing at night",
    "seasonal allergies wheezing a little",
    "husband stops breathing in his sleep and snores",
    "bleeding gums when brushing",
    "nose bleeding a little when i blow it",
    "blood pressure won't go down",
    "heavy period with clots",
    "light spotting at 6 weeks pregnant, no pain",
    "seizure medication side effects",
    "my back seized up",
    "stiff neck from sleeping wrong",
    "fever and stiff muscles after flu shot",
    "my baby has a fever of 100",
    "overdosed on coffee, jitters",
    "my dog ate chocolate",
    "my dog ate rat poison",
    "my cat is having a seizure",
    "this headache is killing me",
    "my feet are killing me after work",
    "i could kill for a burger",
    "how to kill lice",
    "dying my hair with henna",
    "dying to try the new keto diet",
    "cut myself shaving",
    "hurt myself lifting at the gym",
    "black stool after taking iron tablets",
    "hit my head on the cupboard, small bump, feel fine",
    "what to do if someone is choking",
    "blue inhaler or brown inhaler for asthma",
    "how to support a friend who self harms",
    "self harm scars how to make them fade",
    "my sister used to cut herself and is doing well now",
    "suicide prevention training for teachers",
    "stiff neck muscles tight after sleeping badly",
    "bumped head toddler no vomiting seems fine",
    "heat rash on my arms",
    "tired after working in the sun all day",
    "burned my finger on the stove",
    "burnt my tongue on hot coffee",
    "burning sensation when peeing",
    "sunburn blisters on shoulders",
    "heartburn after spicy food",
    "blood sugar low after workout, shaky",
    "stomach ache after eating too much",
    "i ate too much pizza and then took my vitamins",
    "my son takes his adhd medicine every morning",
    "tylenol dosage for kids",
    "epipen expiration date",
    "how to use an epipen",
    "itchy mouth after eating apples",
    "sore throat so bad i can't swallow",
    "swollen lymph nodes in neck with a cold",
    "chest tightness from anxiety",
    "collapsed arches flat feet",
    "unconscious bias training",
    "teenager won't wake up in the morning for school",
    "cant wake up in the morning always tired",
    "got into poison ivy now itchy rash",
    "food poisoning after eating bad chicken",
    "carbon monoxide detector placement",
    "dizzy when i stand up too fast",
    "ringing in ears after a concert",
    "coffee jitters and heart racing",
    "chest pain, no sweating, not spreading to my arm",
    "my son ate dinner and took his pills",
    "pain on my right side and numb toes",
    "right side of my face numb after the dentist",
    "suddenly confused about my medication schedule",
    "first seizure symptoms in adults",
    "period wont stop bleeding after 10 days",
    "i keep choking on food when i eat",
    "choking feeling in throat",
    "collapsed lung recovery",
    "i nearly collapsed from exhaustion",
    "my temperature is 99 and neck is stiff from work",
    "breathing hard after running",
    "i want this headache to end",
    "well fitting shoes for diabetes",
    "felt a gunshot pop in the back of my ankle",
]


@pytest.mark.parametrize(("query", "kind"), POSITIVES)
def test_positive_queries_alert_with_expected_kind(query: str, kind: str) -> None:
    alert = detect_emergency(query)
    assert alert is not None, query
    assert alert.kind == kind


@pytest.mark.parametrize("query", NEGATIVES)
def test_near_miss_queries_do_not_alert(query: str) -> None:
    assert detect_emergency(query) is None


def test_case_and_count_of_examples() -> None:
    assert len(POSITIVES) >= 40
    assert len(NEGATIVES) >= 40
    assert len({q for q, _ in POSITIVES}) == len(POSITIVES)
    assert len(set(NEGATIVES)) == len(NEGATIVES)


def test_self_harm_message_includes_crisis_line() -> None:
    alert = detect_emergency("i want to end my life")
    assert alert == EmergencyAlert(kind="self_harm", message=alert.message if alert else "", layer="pattern")
    assert alert is not None
    assert "988" in alert.message
    assert CRISIS_MESSAGE in alert.message


def test_other_kinds_use_the_emergency_message() -> None:
    alert = detect_emergency("crushing chest pain spreading to my jaw")
    assert alert is not None
    assert alert.message == EMERGENCY_MESSAGE
    assert "988" not in alert.message


def test_self_harm_alerts_even_when_phrased_as_a_question() -> None:
    alert = detect_emergency("signs of suicidal thoughts")
    assert alert is not None and alert.kind == "self_harm"


SELF_HARM_QUESTIONS = [
    "how to support a friend who self harms",
    "suicide rates in young men statistics",
    "what is passive suicidal ideation",
    "my friend attempted suicide last year how do i talk to her about it",
    "books about grief after losing my brother to suicide",
    "can antidepressants cause suicidal thoughts in teenagers",
    "suicide prevention helpline volunteer training",
]
SELF_HARM_AT_RISK = [
    "i keep thinking about suicide",
    "my friend attempted suicide last year and says she will do it again tonight",
    "what is the lethal dose of paracetamol",
    "how do i help my son he is suicidal and has pills",
    "im feeling suicidal",
]


@pytest.mark.parametrize("query", SELF_HARM_QUESTIONS)
def test_self_harm_questions_get_the_support_line_not_the_banner(query: str) -> None:
    assert detect_emergency(query) is None
    assert support_message(query) == SUPPORT_MESSAGE and "988" in SUPPORT_MESSAGE


@pytest.mark.parametrize("query", SELF_HARM_AT_RISK)
def test_self_harm_with_risk_now_keeps_the_crisis_banner(query: str) -> None:
    alert = detect_emergency(query)
    assert alert is not None and alert.kind == "self_harm" and CRISIS_MESSAGE in alert.message


@pytest.mark.parametrize(
    "query", ["i cut myself shaving", "heel pain after running", "suicide squad cast", ""]
)
def test_no_support_line_where_self_harm_is_not_the_topic(query: str) -> None:
    assert support_message(query) is None


def test_an_event_that_is_over_does_not_alert_unless_it_is_back() -> None:
    assert (
        detect_emergency("passed out once from the heat last summer fine now should i see a doctor") is None
    )
    assert detect_emergency("had a seizure years ago when i was a kid should i tell my gp") is None
    alert = detect_emergency(
        "he had a seizure last year and fine since then but now he is fitting and wont stop"
    )
    assert alert is not None and alert.kind == "seizure"
    assert detect_emergency("baby rolled off the sofa yesterday cried straight away fine since") is None


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        # "felt ok, now my ..." is not "ok now": the event is back
        (
            "fell off my bike yesterday felt ok, now my belly is swollen and hard and im dizzy",
            "internal_bleeding",
        ),
        # a paracetamol overdose harms a day or more later: "fine now" does not make it over
        ("dad took like 30 paracetamol yesterday but says hes fine now", "overdose_poisoning"),
    ],
)
def test_a_past_word_does_not_hide_an_emergency_that_is_not_over(query: str, kind: str) -> None:
    alert = detect_emergency(query)
    assert alert is not None and alert.kind == kind


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("my dad colapsed and is unconsious", "unresponsive"),
        ("took about 30 paracetemol an hour ago", "overdose_poisoning"),
        ("crushing cheast pain and cant catch my breth", "heart_attack"),
    ],
)
def test_misspelled_emergencies_are_read_as_meant(query: str, kind: str) -> None:
    assert pattern_kind(query) == kind


def test_spelling_correction_leaves_words_and_contractions_alone() -> None:
    assert correct_spelling("theres blood everywhere and hes pale") == "theres blood everywhere and hes pale"
    assert correct_spelling("dancer with a sore knee") == "dancer with a sore knee"
    assert correct_spelling("vommiting and alergic") == "vomiting and allergic"


def test_text_speak_is_expanded_before_the_check() -> None:
    assert (
        expand_shorthand("wat to do when sum1 has a seizure pls")
        == "what to do when someone has a seizure please"
    )
    assert (
        expand_shorthand("bleeding for 2 mins") == "bleeding for 2 mins"
    )  # numbers and other words untouched
    assert (
        pattern_kind("wat to do when someone has a seizure") is None
    )  # the informational guard reads "what"
    alert = detect_emergency("pls my bf od'd on pills rn hes not waking up")
    assert alert is not None and alert.kind == "overdose_poisoning"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("# comment\nwat = what\nWat = what\n", 3, "expected 'short = expansion'"),
        ("wat what\n", 1, "expected 'short = expansion'"),
        ("u = you\n\nu = your\n", 3, "listed twice"),
    ],
)
def test_bad_shorthand_entry_names_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "shorthand.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SafetyDataError) as caught:
        load_shorthand(path)
    assert str(caught.value).startswith(f"{path}:{line}: ") and problem in str(caught.value)
    with pytest.raises(SafetyDataError, match="cannot read"):
        load_shorthand(tmp_path / "absent.txt")


def test_urgent_words_override_informational_framing() -> None:
    alert = detect_emergency("signs of stroke? his face is drooping right now help")
    assert alert is not None and alert.kind == "stroke"


def test_alert_is_frozen() -> None:
    alert = detect_emergency("seizure wont stop")
    assert alert is not None
    with pytest.raises(AttributeError):
        alert.kind = "other"  # type: ignore[misc]


ODD_INPUTS = [
    "",
    " ",
    "   \t\n  ",
    "x" * 10_000,
    "\U0001f600\U0001f62d\U0001f494",
    '"AND OR NEAR(',
    "'; DROP TABLE docs; --",
    "1=1 OR 'a'='a'",
    "((((((((((",
    "\\\\\\***???+++",
    "\x00\x01\x02",
    "\ud800",
    "\u0130stanbul \u00df \ufb01",
    "\uff43\uff41\uff4e\uff54 \uff42\uff52\uff45\uff41\uff54\uff48\uff45",
]


@pytest.mark.parametrize("query", ODD_INPUTS)
def test_never_raises_on_odd_input(query: str) -> None:
    result = detect_emergency(query)
    assert result is None or isinstance(result, EmergencyAlert)


def test_non_string_input_returns_none() -> None:
    assert detect_emergency(None) is None  # type: ignore[arg-type]


def test_fullwidth_text_is_normalised() -> None:
    assert detect_emergency("\uff43\uff41\uff4e\uff54 \uff42\uff52\uff45\uff41\uff54\uff48\uff45") is not None


def test_only_the_start_of_a_long_query_is_read() -> None:
    assert detect_emergency("a " * 1500 + "i want to kill myself") is None
    assert detect_emergency("seizure wont stop " + "a " * 5000) is not None


SLOW_CANDIDATES = [
    "a" * 10_000,
    "a " * 5_000,
    "chest pain " * 1_000,
    "fever " * 2_000,
    "not " * 2_500,
    "seizure " * 1_500,
    "how " + "many " * 2_000,
    "cant wake my " * 800,
    "!? " * 4_000,
]


@pytest.mark.parametrize("query", SLOW_CANDIDATES)
def test_long_input_is_fast(query: str) -> None:
    start = time.perf_counter()
    detect_emergency(query)
    assert time.perf_counter() - start < 0.5
