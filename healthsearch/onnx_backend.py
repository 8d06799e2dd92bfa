"""A faster CPU path for the same model: exported once to ONNX (optionally int8-quantized), run by onnxruntime.

Export uses ``torch.onnx.export`` on the model's transformer and onnxruntime's own dynamic quantization; the
files are cached under ``$HEALTHSEARCH_CACHE`` (default ``~/.cache/healthsearch``) in a folder named by the model
fingerprint, so a model is exported once and never fetched from anywhere. Pooling and normalisation follow the
model's sentence-transformers configuration (mean, CLS or max pooling over a Transformer module).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_root() -> Path:
    """Where exported models live."""
    return Path(os.environ.get("HEALTHSEARCH_CACHE", Path.home() / ".cache" / "healthsearch")).expanduser()


def exported_model(model_dir: Path, fingerprint: str, quantized: bool) -> Path:
    """The ONNX file for this model, exporting (and quantizing) it on first use."""
    folder = cache_root() / "onnx" / fingerprint
    fp32, int8 = folder / "model.onnx", folder / "model-qint8-per-channel.onnx"
    if not fp32.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _export(model_dir, fp32)
    if quantized and not int8.exists():
        _quantize(fp32, int8)
    return int8 if quantized else fp32


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # processes may export at once
    torch.onnx.export(
        LastHiddenState(),
        (example, example, torch.zeros_like(example)),
        str(partial),
        input_names=list(_INPUTS),
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    partial.replace(target)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # processes may export at once
    quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    partial.replace(target)


class OnnxRunner:
    """Tokenize, run the ONNX transformer, pool and normalise, like the sentence-transformers pipeline."""

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.pooling, self.max_length = _pipeline(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int, max_tokens: int | None = None) -> np.ndarray:
        """Normalized vectors, longest texts first in batches (less padding), returned in input order."""
        self.tokenizer.enable_truncation(max_length=min(self.max_length, max_tokens or self.max_length))
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._batch([texts[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(
            ["last_hidden_state"], {k: v for k, v in feeds.items() if k in self.inputs}
        )[0]
        vectors = _pool(hidden, mask, self.pooling)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def _pipeline(model_dir: Path) -> tuple[str, int]:
    """Pooling mode and max tokens from the sentence-transformers config; refuse what this path cannot run."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(model_dir / m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((pooling_dir / "config.json").read_text())
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    except (OSError, KeyError, StopIteration, json.JSONDecodeError):
        raise ModelError(
            f"{model_dir} is not a Transformer+Pooling sentence-transformers model; use --backend torch"
        ) from None
    if (
        not set(kinds) <= {"Transformer", "Pooling", "Normalize"}
        or not (model_dir / "tokenizer.json").exists()
    ):
        raise ModelError(
            f"the ONNX backend supports Transformer+Pooling models only ({kinds}); use --backend torch"
        )
    modes = {
        "pooling_mode_cls_token": "cls_token",
        "pooling_mode_max_tokens": "max",
        "pooling_mode_mean_tokens": "mean",
    }
    mode = next((name for key, name in modes.items() if pooling.get(key)), None)
    if mode is None:
        raise ModelError(
            f"the ONNX backend does not support this model's pooling ({pooling}); use --backend torch"
        )
    return mode, int(bert.get("max_seq_length", 256))


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls_token":
        return hidden[:, 0]
    weights = mask[:, :, None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
