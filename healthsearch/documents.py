"""The records that flow through the pipeline: Article → Passage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A titled run of text inside an article. ``heading`` is "" for text before any heading."""

    heading: str
    text: str


@dataclass
class Article:
    """One health article, from any reader, before chunking."""

    id: str
    title: str
    sections: list[Section]
    url: str = ""
    source: str = ""
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    aliases: list[str] = field(default_factory=list)
    source_path: str = ""

    def full_text(self) -> str:
        """All section texts joined, as passages are cut from them."""
        return "\n\n".join(s.text for s in self.sections)


@dataclass(frozen=True)
class Passage:
    """A slice of one section of one article; ``text`` occurs verbatim in that section."""

    article_id: str
    ordinal: int
    section: str
    text: str
    title: str

    def embedding_text(self) -> str:
        """What the model sees: title, section heading and passage."""
        head = self.title if not self.section else f"{self.title}. {self.section}"
        return f"{head}\n{self.text}"
