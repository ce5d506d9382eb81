"""The fortunes text-classification task and its transformer teacher (issue 20, item 5).

Needs torch (1.13 here) and the Rust `tokenizers` library (the `tokenizers` wheel):
    PYTHONPATH=/tmp/tok /usr/bin/python3 scripts/text/make-fortunes.py [--data-only] [data-dir] [teacher-dir]
    (defaults: examples/text-fortunes/data and examples/text-fortunes/teacher)

Data (data-dir/train.jsonl, data-dir/test.jsonl, {"text", "label"} per line): the quotations of seven
categories of Debian's `fortunes` package (/usr/share/games/fortunes/<category>, `%`-separated):
people, definitions, computers, songs-poems, politics, work, science. Whitespace is collapsed;
quotations of fewer than 10 or more than 600 characters are dropped (long poems and dialogues);
duplicates within a category are dropped. Per category, a seeded shuffle (SEED) puts TEST_FRACTION
of the quotations in the test split: the split depends only on the package's files and SEED. The
quotations are Debian's (BSD-licensed fortune-mod data); they are regenerated here, not kept in the
repository.

Teacher (teacher-dir/teacher.onnx, tokenizer.json, teacher.json): a BERT-style WordPiece tokenizer
(VOCAB tokens, lowercased, "[CLS] $A [SEP]") trained on the training split by `tokenizers`, and a
2-layer pre-norm transformer encoder (d 64, 4 heads, feed-forward 128, learned positions, masked mean
pooling, linear head) trained on the training split (Adam, label smoothing 0.1, EPOCHS epochs,
fixed seed, CPU), exported with torch.onnx.export (opset 14): inputs input_ids and attention_mask
(int64 [batch, sequence], both dynamic), output logits. Written by hand rather than with
nn.TransformerEncoder so that the graph is plain MatMul / Softmax / LayerNorm.
"""
import json, os, random, re, sys, time

CATEGORIES = ['people', 'definitions', 'computers', 'songs-poems', 'politics', 'work', 'science']
FORTUNES = '/usr/share/games/fortunes'
SEED = 20261
TEST_FRACTION = 0.2
MIN_CHARS, MAX_CHARS = 10, 600
VOCAB = 4000
MAX_LEN = 64
EPOCHS = 10


def quotations(category):
    with open(os.path.join(FORTUNES, category), encoding='utf-8', errors='replace') as f:
        raw = f.read()
    seen = set()
    for q in raw.split('\n%\n'):
        text = re.sub(r'\s+', ' ', q.replace('%', ' ')).strip()
        if MIN_CHARS <= len(text) <= MAX_CHARS and text not in seen:
            seen.add(text)
            yield text


def split_data():
    rng = random.Random(SEED)
    train, test = [], []
    for category in CATEGORIES:
        qs = list(quotations(category))
        rng.shuffle(qs)
        n_test = round(len(qs) * TEST_FRACTION)
        test += [{'text': t, 'label': category} for t in qs[:n_test]]
        train += [{'text': t, 'label': category} for t in qs[n_test:]]
    rng.shuffle(train)
    return train, test


def write_jsonl(path, rows):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    os.replace(tmp, path)


def make_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]'])
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', special_tokens=[('[CLS]', tok.token_to_id('[CLS]')), ('[SEP]', tok.token_to_id('[SEP]'))]
    )
    tok.decoder = decoders.WordPiece()
    return tok


def encode(torch, tok, texts):
    ids = torch.zeros(len(texts), MAX_LEN, dtype=torch.long)
    mask = torch.zeros(len(texts), MAX_LEN, dtype=torch.long)
    for i, t in enumerate(texts):
        e = tok.encode(t).ids
        if len(e) > MAX_LEN:  # truncate, keeping the final [SEP] as BERT does
            e = e[: MAX_LEN - 1] + [e[-1]]
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    return ids, mask


def model_classes(torch):
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d, heads, ff, dropout):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.out = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
            self.drop = nn.Dropout(dropout)

        def forward(self, x, bias):
            b, t, d = x.shape
            h = self.heads
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5 + bias, dim=-1)
            x = x + self.drop(self.out((att @ v).transpose(1, 2).reshape(b, t, d)))
            return x + self.drop(self.ff(self.ln2(x)))

    class Transformer(nn.Module):
        def __init__(self, vocab, classes, d=64, heads=4, ff=128, layers=2, dropout=0.1):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(MAX_LEN, d)
            self.drop = nn.Dropout(dropout)
            self.blocks = nn.ModuleList([Block(d, heads, ff, dropout) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, classes)

        def forward(self, input_ids, attention_mask):
            t = input_ids.shape[1]
            positions = torch.arange(t, device=input_ids.device).unsqueeze(0)
            x = self.drop(self.tok(input_ids) + self.pos(positions))
            m = attention_mask.to(x.dtype)
            bias = (1.0 - m)[:, None, None, :] * -1e4
            for block in self.blocks:
                x = block(x, bias)
            x = self.ln(x)
            pooled = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
            return self.head(pooled)

    return Transformer


def train_teacher(train, test, out):
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    os.makedirs(out, exist_ok=True)
    tok = make_tokenizer([r['text'] for r in train])
    classes = sorted(CATEGORIES)  # the loader's class order: label names sorted
    ids, mask = encode(torch, tok, [r['text'] for r in train])
    y = torch.tensor([classes.index(r['label']) for r in train])
    test_ids, test_mask = encode(torch, tok, [r['text'] for r in test])
    test_y = torch.tensor([classes.index(r['label']) for r in test])
    model = model_classes(torch)(tok.get_vocab_size(), len(classes))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    steps = EPOCHS * ((len(y) + 31) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    started = time.time()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(y))
        for s in range(0, len(y), 32):
            b = perm[s : s + 32]
            t = int(mask[b].sum(1).max())  # the batch's longest text: padding past it changes nothing but time
            loss = nn.functional.cross_entropy(model(ids[b, :t], mask[b, :t]), y[b], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(test_ids, test_mask).argmax(1) == test_y).float().mean().item()
        print(f'epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f}, test accuracy {acc:.4f} ({time.time() - started:.0f} s)', flush=True)
    model.eval()
    with torch.no_grad():
        train_acc = (model(ids, mask).argmax(1) == y).float().mean().item()
        test_acc = (model(test_ids, test_mask).argmax(1) == test_y).float().mean().item()
    tmp = os.path.join(out, 'teacher.onnx.tmp')
    torch.onnx.export(
        model,
        (test_ids[:2], test_mask[:2]),
        tmp,
        input_names=['input_ids', 'attention_mask'],
        output_names=['logits'],
        dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'}, 'logits': {0: 'batch'}},
        opset_version=14,
    )
    os.replace(tmp, os.path.join(out, 'teacher.onnx'))
    tok.save(os.path.join(out, 'tokenizer.json'))
    info = {
        'command': 'PYTHONPATH=/tmp/tok /usr/bin/python3 scripts/text/make-fortunes.py',
        'torch': torch.__version__,
        'classes': classes,
        'maxLength': MAX_LEN,
        'vocabSize': tok.get_vocab_size(),
        'parameters': sum(p.numel() for p in model.parameters()),
        'epochs': EPOCHS,
        'seed': SEED,
        'train': len(train),
        'test': len(test),
        'trainAccuracy': train_acc,
        'testAccuracy': test_acc,
        'trainSeconds': round(time.time() - started, 1),
    }
    with open(os.path.join(out, 'teacher.json'), 'w') as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    data_dir = args[0] if len(args) > 0 else 'examples/text-fortunes/data'
    teacher_dir = args[1] if len(args) > 1 else 'examples/text-fortunes/teacher'
    if not os.path.isdir(FORTUNES):
        sys.exit(f'{FORTUNES} does not exist: install Debian\'s "fortunes" package (apt-get install fortunes)')
    train, test = split_data()
    os.makedirs(data_dir, exist_ok=True)
    write_jsonl(os.path.join(data_dir, 'train.jsonl'), train)
    write_jsonl(os.path.join(data_dir, 'test.jsonl'), test)
    counts = {c: sum(r['label'] == c for r in train + test) for c in CATEGORIES}
    print(f'{len(train)} train + {len(test)} test quotations in {data_dir}: {counts}')
    if '--data-only' in sys.argv:
        return
    try:
        import torch  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as err:
        sys.exit(f'training the teacher needs torch and the `tokenizers` library ({err}); --data-only writes the data alone')
    train_teacher(train, test, teacher_dir)


if __name__ == '__main__':
    main()
