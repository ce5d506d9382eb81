"""A small real text-classification fixture and a tiny transformer teacher, for the text source and
the ONNX text teacher (src/core/data/text.ts, src/core/models/onnxTextTeacher.ts).

Data: quotations from Debian's `fortunes` package (/usr/share/games/fortunes, `%`-separated), three
categories (computers, science, politics); per category the first TRAIN + TEST quotations of 20 to
240 characters in file order, whitespace collapsed. train.jsonl and test.jsonl: {"text", "label"}.

Tokenizer: a BERT-style WordPiece tokenizer (lowercasing BertNormalizer, BertPreTokenizer,
WordPiece, "[CLS] $A [SEP]" post-processing) trained on train.jsonl by the Rust `tokenizers`
library, saved as tokenizer.json (the file a Hugging Face model ships). Ids: [PAD] 0, [UNK] 1,
[CLS] 2, [SEP] 3.

Teacher: a 2-layer pre-norm transformer encoder (d 32, 2 heads, feed-forward 64, learned positions,
masked mean pooling, linear head), trained on train.jsonl in PyTorch (Adam, fixed seed), exported
with torch.onnx.export (opset 14) with inputs input_ids and attention_mask (int64, [batch, seq],
both dynamic) and output logits. The model is written by hand (no nn.TransformerEncoder fast path)
so that the exported graph is plain MatMul / Softmax / LayerNorm ops.

teacher-golden.json: for the first GOLDEN test quotations: the text, the Rust tokenizer's ids and
attention mask at max length MAX_LEN (truncated, padded with [PAD]), and PyTorch's float32 logits.

usage: PYTHONPATH=/tmp/tok /usr/bin/python3 scripts/text/make_text_fixture.py [out-dir]
       (default test/fixtures/text; needs torch and the `tokenizers` wheel)
"""
import json, os, re, sys
import torch
from torch import nn
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

CATEGORIES = ['computers', 'science', 'politics']
TRAIN, TEST = 60, 20
GOLDEN = 6
MAX_LEN = 48
VOCAB = 600
SEED = 20260
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/text'
FORTUNES = '/usr/share/games/fortunes'


def quotations(category):
    with open(os.path.join(FORTUNES, category), encoding='utf-8', errors='replace') as f:
        raw = f.read()
    for q in raw.split('\n%\n'):
        text = re.sub(r'\s+', ' ', q.replace('%', ' ')).strip()
        if 20 <= len(text) <= 240:
            yield text


def load():
    train, test = [], []
    for label, category in enumerate(CATEGORIES):
        qs = list(quotations(category))[: TRAIN + TEST]
        assert len(qs) == TRAIN + TEST, (category, len(qs))
        train += [{'text': t, 'label': category} for t in qs[:TRAIN]]
        test += [{'text': t, 'label': category} for t in qs[TRAIN:]]
    return train, test


def make_tokenizer(texts):
    tok = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]'])
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', special_tokens=[('[CLS]', tok.token_to_id('[CLS]')), ('[SEP]', tok.token_to_id('[SEP]'))]
    )
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece()
    return tok


def encode(tok, texts):
    ids = torch.zeros(len(texts), MAX_LEN, dtype=torch.long)
    mask = torch.zeros(len(texts), MAX_LEN, dtype=torch.long)
    for i, t in enumerate(texts):
        e = tok.encode(t).ids
        if len(e) > MAX_LEN:  # truncate, keeping the final [SEP] as BERT does
            e = e[: MAX_LEN - 1] + [e[-1]]
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids, mask


class Block(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, bias):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5 + bias, dim=-1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.ff(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, vocab, classes, d=32, heads=2, ff=64, layers=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(MAX_LEN, d)
        self.blocks = nn.ModuleList([Block(d, heads, ff) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, input_ids, attention_mask):
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(positions)
        m = attention_mask.to(x.dtype)
        bias = (1.0 - m)[:, None, None, :] * -1e4
        for block in self.blocks:
            x = block(x, bias)
        x = self.ln(x)
        pooled = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return self.head(pooled)


def main():
    torch.manual_seed(SEED)
    os.makedirs(OUT, exist_ok=True)
    train, test = load()
    for name, rows in (('train.jsonl', train), ('test.jsonl', test)):
        with open(os.path.join(OUT, name), 'w', encoding='utf-8') as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    tok = make_tokenizer([r['text'] for r in train])
    tok.save(os.path.join(OUT, 'tokenizer.json'))
    classes = sorted(CATEGORIES)  # the loader's class order: label names sorted
    y = torch.tensor([classes.index(r['label']) for r in train])
    ids, mask = encode(tok, [r['text'] for r in train])
    model = TinyTransformer(tok.get_vocab_size(), len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(40):
        model.train()
        perm = torch.randperm(len(y))
        for s in range(0, len(y), 32):
            b = perm[s : s + 32]
            loss = nn.functional.cross_entropy(model(ids[b], mask[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    test_ids, test_mask = encode(tok, [r['text'] for r in test])
    test_y = torch.tensor([classes.index(r['label']) for r in test])
    with torch.no_grad():
        train_acc = (model(ids, mask).argmax(1) == y).float().mean().item()
        test_acc = (model(test_ids, test_mask).argmax(1) == test_y).float().mean().item()
        golden_logits = model(test_ids[:GOLDEN], test_mask[:GOLDEN])
    torch.onnx.export(
        model,
        (test_ids[:2], test_mask[:2]),
        os.path.join(OUT, 'tiny-transformer.onnx'),
        input_names=['input_ids', 'attention_mask'],
        output_names=['logits'],
        dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'}, 'logits': {0: 'batch'}},
        opset_version=14,
    )
    golden = {
        'command': 'PYTHONPATH=/tmp/tok /usr/bin/python3 scripts/text/make_text_fixture.py',
        'classes': classes,
        'maxLength': MAX_LEN,
        'vocabSize': tok.get_vocab_size(),
        'trainAccuracy': train_acc,
        'testAccuracy': test_acc,
        'examples': [
            {
                'text': test[i]['text'],
                'ids': test_ids[i].tolist(),
                'attentionMask': test_mask[i].tolist(),
                'logits': [float(v) for v in golden_logits[i].tolist()],
            }
            for i in range(GOLDEN)
        ],
    }
    with open(os.path.join(OUT, 'teacher-golden.json'), 'w') as f:
        json.dump(golden, f, indent=1)
    print(f'vocab {tok.get_vocab_size()}, teacher train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}')


if __name__ == '__main__':
    main()
