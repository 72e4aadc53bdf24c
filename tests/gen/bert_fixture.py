#!/usr/bin/env python3
"""Writes tests/data/bert/: the references for test_bert.

Needs PyTorch and Hugging Face transformers (sentence-transformers optional),
e.g. /work/venv-torch/bin/pip install transformers sentence-transformers:
    scripts/get-model.sh minilm
    /work/venv-torch/bin/python tests/gen/bert_fixture.py [MINILM_DIR] [OUT_DIR]

1. tiny/: a small random BERT (2 layers, hidden 32, 4 heads, intermediate 64,
   a 96-token vocabulary) made by transformers.BertModel with a fixed seed
   and a wide init (so every weight matters), saved with save_pretrained
   (config.json + model.safetensors) next to its vocab.txt; a few KB.
   tiny_expected.safetensors holds BertModel's outputs in float64 (stored
   as F32) for the texts of tiny_texts.txt, batched and padded, truncated
   to max_length 16 (batch "single": ids, last_hidden, pooler, sentence =
   normalised mean pooling) and for the pairs of tiny_pairs.tsv (batch
   "pair": with token_type_ids).
2. minilm_expected.safetensors: the sentence embeddings [N, 384] of
   minilm_sentences.txt by all-MiniLM-L6-v2 (BertModel in float64, mean
   pooling over the attention mask, L2 normalisation, max_length 256 so the
   long sentence is truncated), plus, in the metadata, the cosine of
   "A man is eating food." / "A man is eating a piece of bread." from
   sentence-transformers itself (float32) when it is installed.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizer
from transformers.utils import logging

logging.set_verbosity_error()

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data", "bert")
MINILM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("OCLNN_DATA") or os.path.join(os.environ.get("XDG_DATA_HOME") or
                                                os.path.expanduser("~/.local/share"), "oclnn"),
    "models", "all-MiniLM-L6-v2")

TINY_WORDS = """the a man woman is are eating food bread piece of dog cat runs play music guitar
on in and to it was fast slow big small red blue green one two three""".split()
TINY_TEXTS = [
    "A man is eating food.",
    "The dog runs",
    "Two big red cats play music on a blue guitar, and it was fast!",
    "Eating?",
    "a woman is playing the guitar in the small green park with one dog, two cats, three big red "
    "birds and a slow blue fish that plays music",  # longer than max_length 16
    "zebra xylophone",
]
TINY_PAIRS = [
    ("A man is eating food.", "A man is eating a piece of bread."),
    ("The cat runs", "it was fast"),
    ("one", "two three big small red blue green dogs and cats play music on a guitar"),
]
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "Hi",
    "Café naïve résumé — 東京 is a city; emoji 🙂 and numbers 3.14159!",
    # over 256 tokens: truncated to 256 (max_seq_length)
    " ".join(["The quick brown fox jumps over the lazy dog while the committee deliberates "
              "on unprecedented, interdisciplinary considerations."] * 18),
    "Semantic search finds documents by meaning rather than by keywords.",
]


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    s = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(s, p=2, dim=1)


def run(model, enc):
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                    token_type_ids=enc["token_type_ids"])
    return out.last_hidden_state, out.pooler_output, mean_pool(out.last_hidden_state, enc["attention_mask"])


def tiny():
    d = os.path.join(OUT, "tiny")
    os.makedirs(d, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?'") + TINY_WORDS + \
        ["##s", "##ing", "##ed", "##er"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + \
        ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = vocab[:96] + [f"[unused{i}]" for i in range(max(0, 96 - len(vocab)))]
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    torch.manual_seed(1234)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu",
                     initializer_range=0.3, layer_norm_eps=1e-12)
    model = BertModel(cfg).eval()
    with torch.no_grad():  # LayerNorm weights away from 1 and 0 too
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
    model.save_pretrained(d, safe_serialization=True)
    for extra in os.listdir(d):
        if extra not in ("config.json", "model.safetensors", "vocab.txt"):
            os.remove(os.path.join(d, extra))
    tok = BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=True)
    model = model.double()
    out = {}
    with open(os.path.join(OUT, "tiny_texts.txt"), "w") as f:
        f.write("\n".join(TINY_TEXTS) + "\n")
    with open(os.path.join(OUT, "tiny_pairs.tsv"), "w") as f:
        f.write("".join(f"{a}\t{b}\n" for a, b in TINY_PAIRS))
    for key, enc in (
        ("single", tok(TINY_TEXTS, padding=True, truncation=True, max_length=16, return_tensors="pt")),
        ("pair", tok([a for a, _ in TINY_PAIRS], [b for _, b in TINY_PAIRS], padding=True, truncation=True,
                     max_length=16, return_tensors="pt")),
    ):
        h, p, s = run(model, enc)
        out[f"{key}.ids"] = enc["input_ids"].to(torch.int32)
        out[f"{key}.type_ids"] = enc["token_type_ids"].to(torch.int32)
        out[f"{key}.attention_mask"] = enc["attention_mask"].to(torch.int32)
        out[f"{key}.last_hidden"] = h.float()
        out[f"{key}.pooler"] = p.float()
        out[f"{key}.sentence"] = s.float()
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "tiny_expected.safetensors"))


def minilm():
    if not os.path.isfile(os.path.join(MINILM, "model.safetensors")):
        print(f"bert_fixture: no model in {MINILM}; run scripts/get-model.sh minilm (MiniLM part skipped)")
        return
    tok = BertTokenizer(os.path.join(MINILM, "vocab.txt"), do_lower_case=True)
    model = BertModel.from_pretrained(MINILM, add_pooling_layer=True).eval().double()
    with open(os.path.join(OUT, "minilm_sentences.txt"), "w") as f:
        f.write("\n".join(SENTENCES) + "\n")
    # Batches of mixed length, as a user would send them.
    embs = []
    for chunk in (SENTENCES[:5], SENTENCES[5:]):
        enc = tok(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
        embs.append(run(model, enc)[2])
    emb = torch.cat(embs).float()
    lengths = [len(tok(s, truncation=True, max_length=256)["input_ids"]) for s in SENTENCES]
    meta = {"lengths": json.dumps(lengths)}
    a, b = "A man is eating food.", "A man is eating a piece of bread."
    try:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(MINILM, device="cpu")
        e = st.encode([a, b], convert_to_tensor=True, normalize_embeddings=True)
        meta["st_cosine"] = repr(float((e[0] * e[1]).sum()))
        meta["st_max_abs_diff"] = repr(float((st.encode(SENTENCES, convert_to_tensor=True) - emb).abs().max()))
    except ImportError:
        pass
    ea, eb = emb[0].double(), emb[1].double()
    meta["cosine"] = repr(float((ea * eb).sum()))
    save_file({"embeddings": emb.contiguous()}, os.path.join(OUT, "minilm_expected.safetensors"), metadata=meta)
    print("bert_fixture: token lengths", lengths)
    print("bert_fixture:", meta)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    tiny()
    minilm()
