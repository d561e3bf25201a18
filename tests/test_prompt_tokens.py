"""Token counting: tiktoken built from tokenizer.json gives the HF tokenizer's ids."""

from __future__ import annotations

import inspect
import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_assist.prompt import tokens as T

SAMPLE = (
    inspect.getsource(textwrap)
    + "\nünïcödé ✓ 日本語 emoji 🎉 <|im_end|> literal specials <|im_start|>\r\n\ttabs\t\t  trailing   \n\n\n"
    + "x = [1, 2, 3]  # comment\n    indented()\n'single' \"double\" 12345 3.14159 0xFF\n"
)


@pytest.fixture(scope="module")
def hf_tok(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def spec(tiny_model_dir: Path) -> dict[str, Any]:
    return json.loads((tiny_model_dir / "tokenizer.json").read_text())


def test_same_ids_as_hf(hf_tok: Any) -> None:
    counter = T.from_hf(hf_tok)
    assert counter.name.startswith("tiktoken:") and counter.chunked
    assert counter.encode(SAMPLE) == hf_tok.encode(SAMPLE, add_special_tokens=False)
    assert counter.count(SAMPLE) == len(counter.encode(SAMPLE))
    assert T.from_hf(hf_tok) is counter  # built once per tokenizer


def test_ids_not_in_merge_order_are_mapped_back(spec: dict[str, Any]) -> None:
    """Shuffle the ids of merged tokens: tiktoken ranks by merge order, ids map back."""
    from tokenizers import Tokenizer

    spec = json.loads(json.dumps(spec))
    vocab: dict[str, int] = spec["model"]["vocab"]
    specials = {t["content"] for t in spec["added_tokens"]}
    merged = [t for t in vocab if len(t) > 1 and t not in specials]
    ids = [vocab[t] for t in merged]
    random.Random(0).shuffle(ids)
    vocab.update(zip(merged, ids))
    hf = Tokenizer.from_str(json.dumps(spec))
    counter = T.from_tokenizer_json(spec)
    assert counter.encode(SAMPLE) == hf.encode(SAMPLE, add_special_tokens=False).ids


def test_bytes_missing_from_the_vocabulary_are_dropped_like_hf(spec: dict[str, Any]) -> None:
    from tokenizers import Tokenizer

    spec = json.loads(json.dumps(spec))
    stand_in = next(ch for ch, byte in T._byte_decoder().items() if byte == 4)  # control char 0x04
    spec["model"]["vocab"].pop(stand_in)
    spec["model"]["merges"] = [m for m in spec["model"]["merges"] if stand_in not in "".join(m)]
    hf = Tokenizer.from_str(json.dumps(spec))
    text = "a\x04b c\x04\x04d\n"
    assert T.from_tokenizer_json(spec).encode(text) == hf.encode(text, add_special_tokens=False).ids


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.text(alphabet="ab \n\t(é'x1<|>", max_size=12), max_size=12))
def test_chunked_count_is_exact(hf_tok: Any, parts: list[str]) -> None:
    text = "".join(parts) * 3  # long enough to be split
    assert T.from_hf(hf_tok).count(text) == len(hf_tok.encode(text, add_special_tokens=False))  # GPT-2 regex
    assert T.cl100k().count(text) == len(T.cl100k().encode(text))  # cl100k/Qwen-style regex


def test_cl100k_works_offline() -> None:
    enc = T.cl100k()
    assert enc.encode("hello world") == [15339, 1917]
    assert enc.chunked and enc.count(SAMPLE) == len(enc.encode(SAMPLE))


def test_cl100k_is_tiktokens_own_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped file, pattern and special tokens are what tiktoken's cl100k_base constructor
    builds, with the sha256 it expects for the downloaded file (its loader stands in here)."""
    from tiktoken_ext import openai_public

    ours = T.cl100k_spec()
    asked: list[tuple[str, str | None]] = []

    def load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        asked.append((url, expected_hash))
        return ours["mergeable_ranks"]

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", load)
    theirs = openai_public.cl100k_base()
    assert asked == [("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken", T.CL100K_SHA256)]
    assert theirs == ours and len(ours["mergeable_ranks"]) == 100_256


def test_cl100k_refuses_a_file_with_another_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "cl100k_base.tiktoken"
    data = T.CL100K_FILE.read_bytes()
    bad.write_bytes(data.replace(b" 100\n", b" 101\n", 1))  # one rank changed
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(T, "CL100K_FILE", bad)
    with pytest.raises(ValueError, match="Hash mismatch"):
        T.cl100k_spec()


def test_unsupported_tokenizers_fall_back_to_hf() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(T.Unsupported):
        T.from_tokenizer_json(tok.to_str())
    hf = PreTrainedTokenizerFast(tokenizer_object=tok)
    counter = T.from_hf(hf)
    assert counter.name.startswith("hf:") and not counter.chunked
    assert counter.encode("hello world foo") == [1, 2, 0] and counter.count("hello world") == 2
