"""Everyday words people type → the clinical words articles use, for query expansion.

A hand-written vocabulary of our own. Expansion adds terms; it never removes what the person typed.
"""

from __future__ import annotations

import re
from functools import lru_cache

LAY_TO_CLINICAL: dict[str, str] = {
    "pee": "urine urinate urination",
    "peeing": "urine urinate urination",
    "wee": "urine urinate urination",
    "loo": "toilet urinate bathroom",
    "toilet": "urinate bowel",
    "stings": "burning pain",
    "stinging": "burning pain",
    "poo": "stool bowel movement",
    "poop": "stool bowel movement",
    "pooping": "stool bowel movement",
    "the runs": "diarrhea",
    "runny poo": "diarrhea",
    "diarhea": "diarrhea",
    "diarrhoea": "diarrhea",
    "blocked up": "constipation",
    "bunged up": "constipation congestion",
    "cant go": "constipation",
    "tummy": "stomach abdominal belly",
    "belly": "stomach abdominal",
    "gut": "stomach bowel digestive",
    "puffy": "swollen swelling",
    "swollen": "swelling",
    "throwing up": "vomiting nausea",
    "throw up": "vomiting nausea",
    "puking": "vomiting",
    "puke": "vomiting",
    "sick to my stomach": "nausea",
    "queasy": "nausea",
    "heartburn": "acid reflux gerd",
    "acid": "reflux",
    "short of breath": "shortness of breath breathing",
    "out of breath": "shortness of breath breathing",
    "wheezy": "wheezing asthma",
    "wheezeing": "wheezing",
    "stuffy nose": "congestion",
    "blocked nose": "congestion",
    "runny nose": "nasal congestion",
    "sniffles": "runny nose cold",
    "dizzy": "dizziness lightheaded",
    "lightheaded": "dizziness",
    "woozy": "dizziness",
    "tired": "fatigue tiredness",
    "exhausted": "fatigue",
    "no energy": "fatigue",
    "worn out": "fatigue",
    "cant sleep": "insomnia",
    "can't sleep": "insomnia",
    "wake up at night": "insomnia",
    "sugar": "blood glucose diabetes",
    "blood sugar": "glucose diabetes",
    "bp": "blood pressure hypertension",
    "high blood pressure": "hypertension",
    "pins and needles": "tingling numbness",
    "tingly": "tingling numbness",
    "numb": "numbness",
    "charley horse": "muscle cramp",
    "cramps": "cramp",
    "rolled my ankle": "ankle sprain",
    "twisted my ankle": "ankle sprain",
    "runners knee": "patellofemoral",
    "achy": "pain ache",
    "sore": "pain",
    "itchy": "itching itch",
    "rash": "skin",
    "spots": "acne pimples",
    "zits": "acne pimples",
    "pimples": "acne",
    "flaky": "scaly dry skin",
    "sunburn": "sun skin",
    "moles": "skin cancer mole",
    "mole": "skin cancer melanoma",
    "down in the dumps": "depression",
    "low mood": "depression",
    "hobbies": "loss of interest",
    "dont enjoy": "loss of interest",
    "no motivation": "loss of interest",
    "sad all the time": "depression",
    "nervous": "anxiety",
    "panicky": "panic anxiety",
    "worried all the time": "anxiety",
    "bump on the head": "head injury concussion",
    "knocked out": "concussion",
    "pounding headache": "migraine",
    "thumping headache": "migraine",
    "brittle bones": "osteoporosis",
    "funny bone": "elbow nerve",
    "water infection": "urinary tract infection",
    "bladder infection": "urinary tract infection",
    "kidney stone": "kidney stones",
    "cholesterol": "lipids",
    "flu": "influenza",
    "cold": "common cold",
    "clot": "thrombosis",
    "long flight": "travel deep vein thrombosis",
    "long trip": "travel deep vein thrombosis",
    "lower leg": "calf",
    "back of my ankle": "achilles tendon",
}


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    phrases = sorted(LAY_TO_CLINICAL, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b", re.IGNORECASE)


def clinical_terms(text: str) -> str:
    """The clinical words for every everyday phrase in ``text`` (may be empty)."""
    normalised = text.lower().replace("’", "'")
    found = dict.fromkeys(LAY_TO_CLINICAL[m.group().lower()] for m in _pattern().finditer(normalised))
    return " ".join(found)
