"""Web boilerplate that must never become a passage, shared by the text and HTML readers."""

from __future__ import annotations

import re

_BOILERPLATE_LINES = re.compile(
    r"""^\s*(?:
        leave\ a\ (?:reply|comment)
      | recommended\ (?:articles|posts|reading)
      | related\ (?:articles|posts|stories|content)
      | you\ (?:may|might)\ also\ like
      | your\ email\ address\ will\ not\ be\ published
      | required\ fields\ are\ marked
      | post\ navigation
      | share\ (?:this|on)\b
      | (?:subscribe|sign\ up)\ (?:to|for)\ (?:our\ )?newsletter
      | all\ rights\ reserved
      | copyright\ ©
      | ©\ ?\d{4}
      | we\ use\ cookies
      | this\ (?:site|website)\ uses\ cookies
      | accept\ (?:all\ )?cookies
      | click\ here\ to
      | read\ more\s*$
      | advertisement\s*$
      | video\b
      | watch\b.*\bvideo\b
      | skip\ to\ (?:main\ )?content
      | comments?\s*$
      | previous\ (?:post|article)
      | next\ (?:post|article)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

# Once one of these appears as a block, the rest of the page is comment forms and link lists.
_TRAILER_START = re.compile(
    r"^\s*(?:leave\ a\ (?:reply|comment)|recommended\ articles|related\ (?:articles|posts)|post\ navigation)\b",
    re.IGNORECASE | re.VERBOSE,
)


def is_boilerplate(block: str) -> bool:
    """True for a short block that is page furniture, not article content."""
    stripped = block.strip()
    if not stripped:
        return True
    return len(stripped.split()) <= 25 and bool(_BOILERPLATE_LINES.match(stripped))


def starts_trailer(block: str) -> bool:
    """True for a block after which a scraped page holds only comments and links."""
    return bool(_TRAILER_START.match(block.strip()))


def drop_boilerplate(blocks: list[str]) -> list[str]:
    """Remove boilerplate blocks and everything after a trailer such as "Leave a Reply"."""
    kept: list[str] = []
    for block in blocks:
        if starts_trailer(block):
            break
        if not is_boilerplate(block):
            kept.append(block)
    return kept
