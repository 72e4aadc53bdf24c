#!/usr/bin/env python3
"""Writes tests/data/wordpiece/: the reference token ids for test_wordpiece.

Needs Hugging Face transformers (no torch), e.g.
    python3 -m venv /work/venv-tok && /work/venv-tok/bin/pip install transformers
    scripts/get-model.sh minilm
    /work/venv-tok/bin/python tests/gen/wordpiece_fixture.py MODEL_DIR [OUT_DIR]

The reference is `transformers.BertTokenizer(vocab.txt, do_lower_case=True)`.
In transformers 5 that class runs the `tokenizers` library (the same
pipeline as the model's tokenizer.json and sentence-transformers); the older
pure-Python implementation is kept as BertTokenizerLegacy. Each case also
records whether the legacy one agrees (column `legacy`), so the places where
the two Hugging Face implementations differ stay visible.

Files written (all text, one case per line, tab-separated; texts are hex
UTF-8 so that control characters and NULs survive):
  vocab.txt       the model's vocabulary, copied
  cases.tsv       hexA  hexB|-  legacy(1/0)  ids  pieces
                  ids = the full encoding ([CLS] a [SEP] [b [SEP]]) without
                  truncation; pieces = the same as vocabulary entries
  batches.tsv     "batch <max_length> <rows>" then per row:
                  hexA  hexB|-  ids  type_ids  attention_mask
                  (padding=True, truncation=True, max_length as given)
"""
import os
import random
import shutil
import sys
import unicodedata

from transformers import BertTokenizer
from transformers.utils import logging

logging.set_verbosity_error()

try:
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
except ImportError:  # transformers 4: BertTokenizer is the pure-Python one
    BertTokenizerLegacy = None


def hexs(s):
    return s.encode("utf-8").hex() if s is not None else "-"


def texts():
    t = [
        "", " ", "\t\n\r ", "Hello, world!", "A man is eating food.", "A man is eating a piece of bread.",
        "The quick brown fox jumps over the lazy dog.", "unaffable", "UNAFFABLE", "un-affable",
        "I can't believe it's not butter!", "don't", "rock'n'roll", "e-mail", "co-operate",
        # accents in many scripts
        "Café crème brûlée", "naïve façade", "Ångström", "São Paulo", "Kraków", "Dvořák", "Smørrebrød",
        "Ærøskøbing", "Þingvellir", "İstanbul", "ıiIİ", "Straße", "STRASSE", "ẞ", "Łódź", "Ελλάδα", "Αθήνα",
        "Việt Nam", "Nguyễn Tấn Dũng", "Ồ ồ ố", "crème", "ﬁnancial ﬂow", "Ǆemal ǅemal ǆemal",
        "ΟΔΟΣ", "οδός", "ΟΔΟΣ.", "ΟΔΟΣ.Α", "σοφός ΣΟΦΟΣ", "ΣΑΣ ΣΑΣ", "Σ", "ΑΣ", "aΣ", "ªΣ", "ʰΣ",
        "ΆΣ\u0301", "ῼ ᾼ ᾈ", "Ω Ω", "K K", "Å Å", "\u0041\u030a", "e\u0301", "\u0301", "a\u0301\u0302\u0303",
        "q\u0307\u0323", "q\u0323\u0307", "\u1e0b\u0323", "Ṩ", "s\u0323\u0307", "\u0345", "ǰ", "ΐ",
        # combining marks that are not Mn (Mc, Me)
        "क्षत्रिय", "हिन्दी", "தமிழ்", "\u20dd a\u20dd", "ক্ষ", "ਪੰਜਾਬੀ", "ગુજરાતી", "ಕನ್ನಡ", "മലയാളം", "සිංහල",
        # CJK, Japanese, Korean
        "中文", "我爱北京天安门", "你好，世界！", "漢字かな交じり文", "東京タワー", "ひらがな", "カタカナ", "ｶﾀｶﾅ",
        "日本語のテキストです。", "한국어", "안녕하세요 세계", "각", "\u1100\u1161\u11a8", "ㄱㄴㄷ", "Ｈｅｌｌｏ　Ｗｏｒｌｄ",
        "１２３４５", "ＡＢＣ", "！？", "（括弧）", "「引用」", "\u3400\u4dbf", "\U00020000\U0002a6df", "\U0002a700",
        "\U0002b740", "\U0002b81f", "\U0002b920", "\U0002ceaf", "\uf900\ufaff", "\U0002f800", "\u2e80\u2f00",
        "\u3005\u3007", "中a文b", "x中y", "〇一二三",
        # Thai, Arabic, Hebrew, Cyrillic, Devanagari, Georgian, Armenian, Ethiopic
        "ภาษาไทย", "สวัสดีครับ", "العربية", "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "עברית", "שָׁלוֹם",
        "Русский язык", "ПРИВЕТ, МИР", "Ёлка ёлка", "Й й", "Україна", "ქართული", "Հայերեն", "ኢትዮጵያ", "देवनागरी",
        "Ελληνικά", "Ῥόδος", "ἄνθρωπος",
        # emoji
        "😀", "I ❤ NY", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "🇺🇸🇯🇵", "1\ufe0f\u20e3", "☺️",
        "🤷\u200d♀️", "hello😀world", "🙂🙃", "★☆✓✗", "♠♣♥♦",
        # punctuation runs, numbers, URLs
        "!!!", "?!?!", "...", "…", "--", "—", "–", "«quoted»", "“smart quotes”", "‘single’", "¿Qué?", "¡Hola!",
        "a.b.c", "(a)[b]{c}<d>", "@#$%^&*", "~`|\\", "\"''\"", "1,234,567.89", "3.14159", "-42", "+1 (555) 123-4567",
        "2024-01-15T10:30:00Z", "10%", "$100", "€50", "£20", "¥1000", "1st 2nd 3rd 4th", "0x1F", "1e-10",
        "https://www.example.com/path?query=1&b=2#frag", "user@example.com", "C:\\Windows\\System32",
        "/usr/local/bin", "#hashtag @mention", "snake_case_name", "camelCaseName", "kebab-case-name",
        "‽ ⁂ ※ § ¶ † ‡ • ‣ ′ ″", "\u00b7\u0387", "۔ ، ؛ ؟", "।॥", "。、", "・", "〜", "\u2e3a\u2e3b",
        # math and symbols
        "∑ ∫ ∂ √ ∞ ≈ ≠ ≤ ≥", "x² + y² = z²", "α + β = γ", "½ ¼ ¾", "№ ™ © ®", "° ℃ ℉", "→ ← ↑ ↓ ⇒",
        "𝔸𝔹ℂ", "𝐀𝐁𝐂", "Ⅻ ⅻ", "①②③", "ⓐⓑⓒ", "Ⓐ", "∀x∃y", "⊂ ⊃ ∈ ∉", "π ≈ 3.14",
        # control characters and whitespace variants
        "a\x00b", "a\x01b", "a\x07b", "a\x0bb", "a\x0cb", "a\x1cb", "a\x1fb", "a\x7fb", "a\x85b", "a\x9fb",
        "tab\there", "new\nline", "cr\rlf", "a\r\nb", "nb\u00a0sp", "a\u1680b", "en\u2002space", "em\u2003space",
        "thin\u2009space", "hair\u200aspace", "zw\u200bsp", "zw\u200cnj", "zw\u200dj", "a\u2028b", "a\u2029b",
        "a\u202fb", "a\u205fb", "ideo\u3000space", "soft\u00adhyphen", "bom\ufeffhere", "\ufeffstart",
        "lrm\u200ertl\u200f", "a\u2066b\u2069", "a\ufffdb", "\ufffd", "x\ue000y", "x\U000f0000y", "a\U000e0001b",
        "a\u061cb", "  leading and trailing  ", "multiple     spaces", "\n\n\n", "\x00", "\x00\x00abc\x00",
        "a\u0378b", "\u0378z", "\ud7ffq",
        # special tokens written in the text
        "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[cls]", "[ CLS ]", "hello [MASK] world", "a[SEP]b",
        "[CLS][SEP]", "[[CLS]]", "[CLS", "CLS]", "[MASK]s", "x[UNK]y[PAD]z", "[CL\x00S]",
        # long words
        "a" * 99, "a" * 100, "a" * 101, "b" * 250, "é" * 100, "é" * 101, "e\u0301" * 60,
        "pneumonoultramicroscopicsilicovolcanoconiosis", "supercalifragilisticexpialidocious",
        "Lopadotemachoselachogaleokranioleipsanodrimhypotrimmatosilphioparaomelitokatakechymenokichlepikossyphophattoperisteralektryonoptekephalliokigklopeleiolagoiosiraiobaphetraganopterygon",
        "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz", "antidisestablishmentarianism",
        "x" * 100 + "!", "!" * 150, "中" * 120, "ab" * 55 + " end",
        # mixed scripts
        "Hello世界", "Привет world", "東京Tokyo東京", "αβγabc", "مرحباhello", "שלוםworld", "naïve中文café",
        "abc123def", "123abc", "v1.2.3", "COVID-19", "GPT-4o", "iPhone 15 Pro Max", "Ĳssel ĳs",
    ]
    # sentences of ordinary English of various lengths
    base = ("The weather today is sunny with a chance of rain in the afternoon, so bring an umbrella. "
            "Researchers announced a new method for training neural networks more efficiently. ")
    t += [base[:n] for n in (10, 37, 80, 150)]
    t.append(base * 20)  # a few hundred tokens
    return t


def random_texts(vocab, count, seed=1234):
    """Random mixtures of vocabulary pieces and characters of many scripts."""
    rng = random.Random(seed)
    words = [w for w in vocab if not w.startswith("[") and not w.startswith("##")]
    subs = [w for w in vocab if w.startswith("##")]
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿĀāĂăĄąĆćČčĎďĒēĘęĚěĞğĪīİıŁłŃńŇňŌōŐőŒœŘřŚśŞşŠšŢţŤťŪūŮůŰűŸŹźŻżŽž",
        "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋ",
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
        "あいうえおかきくけこさしすせそアイウエオカキクケコー",
        "가나다라마바사아자차카타파하한국어",
        "กขคงจฉชซญดตถทนบปผพฟมยรลวศสหอ",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "אבגדהוזחטיכלמנסעפצקרשת",
        ".,;:!?()[]{}'\"-_/\\@#$%^&*+=<>|~`",
        "\u0300\u0301\u0302\u0308\u0327\u0331\u05b7\u064e\u0e34\u0e48\u093f\u094d",
        " \t\n\u00a0\u2003\u3000",
        "😀😂👍❤🎉🔥✨🙏",
    ]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 8)):
            r = rng.random()
            if r < 0.35:
                w = rng.choice(words)
                parts.append(w.upper() if rng.random() < 0.2 else w)
            elif r < 0.45:
                parts.append(rng.choice(words) + rng.choice(subs)[2:])
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
        out.append(rng.choice(["", " ", " ", "  "]).join(parts))
    return out


def pairs():
    return [
        ("How old are you?", "I am 25 years old."),
        ("", ""), ("a", ""), ("", "b"), ("Hello", "World"),
        ("A man is eating food.", "A man is eating a piece of bread."),
        ("中文", "English"), ("ΟΔΟΣ", "[SEP] x [CLS]"), ("first\tsentence", "second\u00a0sentence"),
        ("The quick brown fox " * 10, "jumps over the lazy dog " * 12),
    ]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "wordpiece")
    vocab_path = os.path.join(model, "vocab.txt") if os.path.isdir(model) else model
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(vocab_path, os.path.join(out, "vocab.txt"))

    tok = BertTokenizer(vocab_path, do_lower_case=True)
    legacy = BertTokenizerLegacy(vocab_path, do_lower_case=True) if BertTokenizerLegacy else None
    with open(vocab_path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]

    def ids_of(t, a, b):
        enc = t([a], [b]) if b is not None else t([a])
        return enc["input_ids"][0]

    singles = texts() + random_texts(vocab, 200)
    cases = [(s, None) for s in singles] + pairs()
    n_legacy_diff = 0
    with open(os.path.join(out, "cases.tsv"), "w", encoding="utf-8") as f:
        f.write("# hexA\thexB\tlegacy_agrees\tids\tpieces  (tests/gen/wordpiece_fixture.py)\n")
        for a, b in cases:
            ids = ids_of(tok, a, b)
            agree = 1
            if legacy is not None and ids_of(legacy, a, b) != ids:
                agree = 0
                n_legacy_diff += 1
            pieces = tok.convert_ids_to_tokens(ids)
            assert all(" " not in p and "\t" not in p for p in pieces)
            f.write("%s\t%s\t%d\t%s\t%s\n" % (hexs(a), hexs(b), agree, " ".join(map(str, ids)), " ".join(pieces)))

    rng = random.Random(99)
    batches = [
        (256, [("Hello world", None), ("A much longer sentence with several more tokens in it.", None), ("", None)]),
        (8, [("one two three four five six seven eight nine ten", None), ("short", None)]),
        (2, [("truncated to nothing", None), ("", None)]),
        (3, [("a b c", "d e f"), ("x", "y")]),
        (10, [("How old are you?", "I am 25 years old."), ("a b", "c d e f g h i j k l m n o p"),
              ("a b c d e f g h i j k l m n o p", "q r")]),
        (7, [("a b c d e", "f g h i j")]),
        (8, [("a b c d e", "f g h i j"), ("a", "b c d e f g h i j k"), ("a b c d e f g h i j", "k")]),
        (256, [("The quick brown fox " * 40, "jumps over the lazy dog " * 40), ("short", "pair")]),
        (256, [("word " * 300, None)]),
    ]
    def words():
        return " ".join(rng.choice(vocab[2000:5000]) for _ in range(rng.randint(0, 20)))
    for m in (16, 24):
        batches.append((m, [(words(), None) for _ in range(12)]))
        batches.append((m, [(words(), words()) for _ in range(12)]))
    # longest_first on a grid of lengths (a/b counts of one-token words)
    for la in range(0, 7):
        for lb in range(0, 7):
            for m in (3, 4, 5, 6, 9):
                batches.append((m, [(" ".join("a" * 1 for _ in range(la)), " ".join("b" for _ in range(lb)))]))
    with open(os.path.join(out, "batches.tsv"), "w", encoding="utf-8") as f:
        f.write("# batch max_length rows, then hexA\thexB\tids\ttype_ids\tattention_mask per row\n")
        for m, rows in batches:
            a = [r[0] for r in rows]
            has_pair = any(r[1] is not None for r in rows)
            if has_pair:
                assert all(r[1] is not None for r in rows)
                enc = tok(a, [r[1] for r in rows], padding=True, truncation=True, max_length=m)
            else:
                enc = tok(a, padding=True, truncation=True, max_length=m)
            f.write("batch %d %d\n" % (m, len(rows)))
            for i, (x, y) in enumerate(rows):
                f.write("%s\t%s\t%s\t%s\t%s\n" % (hexs(x), hexs(y), " ".join(map(str, enc["input_ids"][i])),
                                                " ".join(map(str, enc["token_type_ids"][i])),
                                                " ".join(map(str, enc["attention_mask"][i]))))
    print("%d cases (%d where BertTokenizerLegacy differs), %d batches, unicodedata %s" %
          (len(cases), n_legacy_diff, len(batches), unicodedata.unidata_version))


if __name__ == "__main__":
    main()
