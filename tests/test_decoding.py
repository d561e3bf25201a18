from pathlib import Path

from jupyter_assist.engine.decoding import IncrementalDetokenizer, StopRule
from jupyter_assist.engine.decoding import held_back as _held_back


def test_detokenizer_holds_back_split_utf8() -> None:
    data = "é→ok".encode()
    # One "token" per byte: only whole characters may come out.
    detok = IncrementalDetokenizer(lambda ids: bytes(ids).decode("utf-8", errors="replace"))
    deltas = [detok.push(b) for b in data]
    assert "".join(deltas) == "é→ok"
    assert all("\ufffd" not in d for d in deltas)
    assert deltas[0] == ""  # first byte of é alone is not a character


def test_stop_cut_finds_earliest() -> None:
    rule = StopRule(max_tokens=10, stop_strings=("\n\n", "```"))
    assert rule.cut("a = 1\n```\n\nb") == 6
    assert rule.cut("a = 1") is None


def test_loop_guard() -> None:
    rule = StopRule(max_tokens=100)
    assert rule.looping([1, 2, 3, 4, 5]) is None
    assert rule.looping([9, 7, 7, 7, 7]) == 3
    assert rule.looping([0, 1, 2, 1, 2, 1, 2, 1, 2]) == 6
    assert rule.looping([1, 2, 1, 2, 1, 2]) is None  # three repeats are allowed


def test_held_back_prefix_of_stop() -> None:
    assert _held_back("x = 1\n", ("\n\n",)) == 1
    assert _held_back("x = 1", ("\n\n",)) == 0
    assert _held_back("print(1)\n``", ("\n```",)) == 3


def test_output_push_text_cuts_and_holds_back_like_tokens() -> None:
    from jupyter_assist.engine.decoding import Output

    streamed: list[str] = []
    out = Output(lambda ids: "", StopRule(max_tokens=100, stop_strings=("\n\n",)), (), False, streamed.append)
    assert out.push_text("x = 1\n") is None
    assert streamed == ["x = 1"]  # the newline may start a stop string: held back
    assert out.push_text("\ny = 2") == "stop"
    out.flush()
    assert out.text == "x = 1" and "".join(streamed) == "x = 1"


def test_streamed_decoding_gives_the_text_of_decoding_every_id_again(tiny_model_dir: Path) -> None:
    import random

    from transformers import AutoTokenizer

    from jupyter_assist.engine.sampling import decode_stream

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rng = random.Random(0)
    # Real text with multi-byte characters, then random ids: specials, lone bytes of a
    # UTF-8 sequence, sequences that never become valid.
    texts = [tok.encode("def f(x):\n    return 'é → 日本語 🙂'  # ok\n"), *([rng.randrange(len(tok)) for _ in range(60)] for _ in range(200))]
    for k, ids in enumerate(texts):
        step = decode_stream(tok)
        assert step is not None
        streamed = IncrementalDetokenizer(lambda _: "", step)
        again = IncrementalDetokenizer(lambda x: tok.decode(x, skip_special_tokens=True))
        for i in ids:
            assert streamed.push(i) == again.push(i)
            assert streamed.text == again.text
        if k == 0:
            assert streamed.text.endswith("日本語 🙂'  # ok\n")
