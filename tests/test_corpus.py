"""The bundled sample library, and whole real datasets from ../shared parsed end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import frontmatter
import pytest

from healthsearch.chunking import chunk_article
from healthsearch.embedding import Encoder
from healthsearch.ingest import list_corpus_files, read_file
from healthsearch.search import Searcher

from .conftest import REPO, SHARED, build, needs_shared

SLUGS = [
    "achilles-tendinitis",
    "achilles-tendon-rupture",
    "acne",
    "ankle-sprain",
    "anxiety-disorders",
    "asthma",
    "bursitis",
    "calcific-tendinitis-shoulder",
    "carpal-tunnel-syndrome",
    "celiac-disease",
    "chronic-kidney-disease",
    "common-cold",
    "concussion",
    "copd",
    "covid-19",
    "deep-vein-thrombosis",
    "dehydration",
    "depression",
    "eczema",
    "gerd-acid-reflux",
    "gout",
    "hamstring-strain",
    "heart-attack",
    "heat-exhaustion-heatstroke",
    "heel-spurs",
    "high-blood-pressure",
    "high-cholesterol",
    "hypothyroidism",
    "influenza",
    "insomnia",
    "iron-deficiency-anemia",
    "irritable-bowel-syndrome",
    "it-band-syndrome",
    "kidney-stones",
    "knee-osteoarthritis",
    "leg-tendon-calcification",
    "low-back-pain",
    "migraine",
    "muscle-cramps",
    "osteoporosis",
    "patellar-tendinitis",
    "peripheral-artery-disease",
    "peroneal-tendinitis",
    "plantar-fasciitis",
    "prediabetes",
    "psoriasis",
    "rheumatoid-arthritis",
    "rotator-cuff-injury",
    "runners-knee",
    "sciatica",
    "seasonal-allergies",
    "shin-splints",
    "skin-cancer-prevention",
    "stress-fractures",
    "stroke",
    "tennis-elbow",
    "tension-headache",
    "type-2-diabetes",
    "urinary-tract-infection",
    "vitamin-d-deficiency",
]


def test_sample_library_holds_exactly_the_sixty_articles() -> None:
    assert len(SLUGS) == 60
    assert sorted(p.stem for p in (REPO / "corpus").glob("*.md")) == sorted(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_sample_article_is_complete(slug: str) -> None:
    path = REPO / "corpus" / f"{slug}.md"
    meta = frontmatter.load(path).metadata
    assert {"title", "summary", "tags", "source", "reviewed"} <= set(meta)
    assert meta["source"] == "healthsearch sample library" and 2 <= len(meta["tags"]) <= 4
    stat = path.stat()
    from healthsearch.ingest import CorpusFile

    article = read_file(CorpusFile(path, path.name, stat.st_size, stat.st_mtime_ns)).articles[0]
    headings = [s.heading for s in article.sections]
    assert len(headings) >= 4 and "When to see a doctor" in headings
    assert 400 <= len(path.read_text().split()) <= 900
    assert all(p.text.strip() for p in chunk_article(article))


@needs_shared
@pytest.mark.slow
def test_all_of_medquad_and_liveqa_extras_parse() -> None:
    articles, skipped = [], []
    for folder in (SHARED / "medquad", SHARED / "liveqa-dev"):
        for file in list_corpus_files(folder):
            if file.path.suffix == ".xml" or file.path.name == "extra-answers.jsonl":
                outcome = read_file(file)
                skipped += [file.relative] if outcome.skipped else []
                articles += outcome.articles
    assert skipped == []
    ids = {a.id for a in articles}
    assert len(ids) >= 17_800
    assert {"GHR_0000001_Sec1", "ADAM_0003147_Sec1", "NINDS_0000007_Sec1", "CDC_0000397_Sec1"} <= ids
    passages = sum(len(chunk_article(a)) for a in articles[::50])
    assert passages >= len(articles[::50])


@needs_shared
@pytest.mark.slow
def test_a_medquad_slice_builds_and_finds_its_own_answers(tmp_path: Path, encoder: Encoder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((SHARED / "medquad" / "3_GHR_QA").glob("*.xml"))[:25]:
        shutil.copy(path, corpus / path.name)
    report = build(corpus, tmp_path / "index", encoder)
    assert report.skipped == [] and report.articles > 100
    searcher = Searcher.open(tmp_path / "index")
    top = searcher.search("What are the genetic changes related to Aarskog-Scott syndrome ?", k=3)
    assert top[0].article_id == "GHR_0000001_Sec3"
