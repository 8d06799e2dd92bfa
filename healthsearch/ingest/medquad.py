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
    """Read a MedQuAD <Document>; pairs without an answer are skipped."""
    root = _parse(read_text_file(path))
    source, doc_id = root.get("source", "").strip(), root.get("id", "").strip()
    if root.tag != "Document" or not source or not doc_id:
        raise ReadError('not a MedQuAD <Document source=".." id=".."> file')
    focus = _text(root.find("Focus")) or doc_id
    aliases = [_text(s) for s in root.iterfind("FocusAnnotations/Synonyms/Synonym") if _text(s)]
    group = _text(root.find("FocusAnnotations/UMLS/SemanticGroup"))
    articles = []
    for pair in root.iterfind("QAPairs/QAPair"):
        answer = _text(pair.find("Answer"))
        if answer:
            question = pair.find("Question")
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
