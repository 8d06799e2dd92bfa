"""MedQuAD XML: one article per answered QA pair, the question kept as the section heading."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..documents import Article, Section
from .base import ReadError, ReadResult, read_text_file


def read_medquad(path: Path) -> ReadResult:
    """Read a MedQuAD document (three spellings occur: <Document>, <DiseaseFile>, <doc>); unanswered pairs are skipped."""
    root = _parse(read_text_file(path))
    source = _attribute(root, "source", "corpus")
    doc_id = _attribute(root, "id", "docid", "fid")
    if not source or not doc_id:
        raise ReadError('not a MedQuAD <Document source=".." id=".."> file')
    focus = _text(_first(root, "Focus", "doctitle-focus")) or doc_id
    aliases = [_text(s) for s in root.iterfind("FocusAnnotations/Synonyms/Synonym") if _text(s)]
    group = _text(_first(root, "FocusAnnotations/UMLS/SemanticGroup", "UMLS/SemanticGroup"))
    articles = []
    for pair in [*root.iterfind("QAPairs/QAPair"), *root.iterfind("qaPairs/pair")]:
        question, answer = _first(pair, "Question", "question"), _text(_first(pair, "Answer", "answer"))
        if answer:
            tags = [t for t in (group, question.get("qtype", "") if question is not None else "") if t]
            articles.append(
                Article(
                    id=f"{source}_{doc_id}_Sec{pair.get('pid', '').strip()}",
                    title=focus,
                    sections=[Section(_text(question), answer)],
                    url=root.get("url", ""),
                    source=source,
                    tags=tags,
                    aliases=aliases,
                    source_path=str(path),
                )
            )
    return ReadResult(articles)


def _attribute(node: Element, *names: str) -> str:
    return next((node.get(n, "").strip() for n in names if node.get(n, "").strip()), "")


def _first(node: Element, *paths: str) -> Element | None:
    return next((found for p in paths if (found := node.find(p)) is not None), None)


def _parse(text: str) -> Element:
    """Parse XML safely (no entity expansion), turning parser errors into a reason."""
    try:
        return fromstring(text.encode("utf-8"))
    except ParseError as exc:
        raise ReadError(f"malformed XML ({exc})") from None
    except DefusedXmlException as exc:
        raise ReadError(f"unsafe XML refused ({exc.__class__.__name__})") from None


def _text(node: Element | None) -> str:
    """Whitespace-normalised text of a node; MedQuAD marks list items with runs of spaces and "- "."""
    if node is None or not node.text:
        return ""
    text = re.sub(r"[ \t]{2,}- ", "\n- ", node.text.strip())
    text = re.sub(r"(?<=[.:!?])[ \t]{2,}(?=\S)", "\n\n", text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
