#!/usr/bin/env python
"""Step time and peak memory of a decoder classifier (Table 1's decoder rows, §4.3) for

  (1) SFT         cross-entropy only: the warm-up step (the paper's "(SFT)" rows);
  (2) ToxiTrace   CE + λ_grad (PGR + PPT) on the embedding-gradient norms (a create_graph input gradient, then the double
                  backward) + λ_sem ARCL with both reasonings through the same model (the "+ ToxiTrace" rows),

on a randomly initialised Qwen3-0.6B-shaped `Qwen3ForSequenceClassification` (its published config: 28 layers, hidden
1,024, 16 query / 8 key-value heads of 128, MLP 3,072, vocabulary 151,936): no download, so nothing here measures
quality. The classifier goes through toxitrace's own path (`HFSequenceClassifier`: last-token pooling, `adapt`: bf16
weights on CUDA with fp32 LoRA adapters and head under autocast, LoRA via peft, optional gradient checkpointing) and
each step is forward, losses, backward and an AdamW step, the losses being toxitrace's (`gradient_objective`,
`pgr_loss`, `ppt_loss`, `arcl_loss`). Inputs are random token ids, `--seq-len` long with random lengths down to half
of it, a random toxic span in half the rows; reasonings are random ids of `--reason-len`.

The one command a GPU user runs (from the repository root, the venv built; `GPU_COMMAND`; never run on this
project's machines, which have no GPU): SFT and ToxiTrace, bf16, batch 16, LoRA r = 8, 28 layers, JSON to
benchmarks/results/decoder_step.json:

    .venv/bin/python benchmarks/decoder_step.py

Without a GPU, that command prints itself and stops. Other uses: `--count-only` (trainable parameters per scope,
no steps: benchmarks/results/decoder_step_counts.json) and a CPU smoke run, `--layers 1 --hidden 64 --vocab 512
--batch-size 2 --steps 1 --out /tmp/decoder_step.json`.
"""
import argparse, json, sys, time
from pathlib import Path

GPU_COMMAND = '.venv/bin/python benchmarks/decoder_step.py'

QWEN3_06B = dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128, max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
                 tie_word_embeddings=True, attention_bias=False, hidden_act='silu')   # Qwen/Qwen3-0.6B config.json


def qwen3_classifier(layers: int, hidden: int = None, vocab: int = None, seed: int = 0):
    "A randomly initialised Qwen3-0.6B-shaped two-class classifier with `layers` layers (`hidden`, `vocab`: smaller, for a CPU smoke run)."
    import torch
    from transformers import Qwen3Config, Qwen3ForSequenceClassification
    from toxitrace.model import HFSequenceClassifier
    shape = dict(QWEN3_06B, num_hidden_layers=layers)
    if hidden: shape.update(hidden_size=hidden, intermediate_size=3 * hidden, head_dim=hidden // 16)
    if vocab: shape.update(vocab_size=vocab)
    cfg = Qwen3Config(**shape, num_labels=2, pad_token_id=0, id2label={0: 'non-toxic', 1: 'toxic'}, label2id={'non-toxic': 0, 'toxic': 1})
    torch.manual_seed(seed)
    return HFSequenceClassifier(Qwen3ForSequenceClassification(cfg))


def batch(B: int, T: int, V: int, gen, device):
    "Random ids (B, T) with right padding (lengths T/2..T), attention mask, toxic and valid token masks, labels."
    import torch
    lens = torch.randint(T // 2, T + 1, (B,), generator=gen)
    mask = (torch.arange(T)[None] < lens[:, None]).long()
    ids = torch.randint(1, V, (B, T), generator=gen) * mask
    labels = torch.arange(B) % 2
    toxic = torch.zeros(B, T, dtype=torch.bool)
    for i in range(B):
        if labels[i]:
            a = int(torch.randint(0, int(lens[i]) - 2, (1,), generator=gen)); toxic[i, a:a + 3] = True
    return [x.to(device) for x in (ids, mask, toxic, mask.bool(), labels)]


def step(clf, opt, b, reasons, toxitrace: bool, lambda_grad=0.8, lambda_sem=0.5):
    "One training step; the loss."
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from contextlib import nullcontext
    from toxitrace.saliency import gradient_objective
    from toxitrace.gcloss import pgr_loss, ppt_loss
    from toxitrace.arcl import arcl_loss
    ids, mask, toxic, valid, y = b
    opt.zero_grad(set_to_none=True)
    if not toxitrace:
        loss = F.cross_entropy(clf(ids, mask), y)
    else:
        h_text = {}
        hook = clf.dropout.register_forward_pre_hook(lambda m, a: h_text.setdefault('h', a[0]))
        with sdpa_kernel([SDPBackend.MATH]):            # the fused kernels have no double backward (as in GCLossCallback)
            emb = clf.word_embeddings(ids)
            logits = clf(None, mask, emb)
        hook.remove()
        loss = F.cross_entropy(logits, y)
        grad, = torch.autograd.grad(gradient_objective(logits, y, 'paper').sum(), emb, create_graph=True)
        g = torch.where(valid, grad.float().norm(dim=-1), grad.new_zeros((), dtype=torch.float32))
        loss = loss + lambda_grad * (pgr_loss(g, toxic, valid) + ppt_loss(g, toxic, valid))
        (tid, tmask), (nid, nmask) = reasons
        h = clf.sentence_vector(torch.cat([tid, nid]), torch.cat([tmask, nmask])).float()
        loss = loss + lambda_sem * arcl_loss(h_text['h'].float(), h[:len(tid)], h[len(tid):], y)
    loss.backward()
    opt.step()
    return loss.item()


def measure(args, variant: str, device: str) -> dict:
    "Build a fresh classifier, run warm-up + timed steps of `variant`: seconds per step, peak GPU memory, trainable parameters."
    import torch
    from toxitrace.decoders import adapt, trainable_parameters
    clf = qwen3_classifier(args.layers, args.hidden, args.vocab, args.seed)
    clf = adapt(clf, lora=args.lora, lora_scope=args.lora_scope, gradient_checkpointing=args.gradient_checkpointing,
                dtype=args.dtype, device=device).to(device).train()
    counts = trainable_parameters(clf)
    opt = torch.optim.AdamW([p for p in clf.parameters() if p.requires_grad], lr=1e-5)
    V, gen = clf.model.config.vocab_size, torch.Generator().manual_seed(args.seed)
    batches = [batch(args.batch_size, args.seq_len, V, gen, device) for _ in range(args.warmup_steps + args.steps)]
    reasons = []
    for _ in batches:
        r = batch(args.batch_size, args.reason_len, V, gen, device)
        r2 = batch(args.batch_size, args.reason_len, V, gen, device)
        reasons.append(((r[0], r[1]), (r2[0], r2[1])))
    cuda = device == 'cuda'
    times = []
    for i, (b, r) in enumerate(zip(batches, reasons)):
        if i == args.warmup_steps and cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        loss = step(clf, opt, b, r, variant == 'ToxiTrace')
        if cuda: torch.cuda.synchronize()
        if i >= args.warmup_steps: times.append(time.perf_counter() - t0)
    res = dict(variant=variant, seconds_per_step=sum(times) / len(times), min_seconds=min(times), last_loss=loss,
               weights_dtype=str(clf.model.model.layers[0].mlp.up_proj.weight.dtype), **counts)
    if cuda: res['peak_memory_gib'] = torch.cuda.max_memory_allocated() / 2**30
    del clf, opt
    if cuda: torch.cuda.empty_cache()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--layers', type=int, default=28, help='decoder layers (28: Qwen3-0.6B)')
    ap.add_argument('--hidden', type=int, default=None, help='a smaller hidden size (CPU smoke; default: 1,024)')
    ap.add_argument('--vocab', type=int, default=None, help='a smaller vocabulary (CPU smoke; default: 151,936)')
    ap.add_argument('--batch-size', type=int, default=16)
    ap.add_argument('--seq-len', type=int, default=128, help='text tokens per row (lengths vary from half of it)')
    ap.add_argument('--reason-len', type=int, default=64, help='tokens per reasoning (ARCL)')
    ap.add_argument('--steps', type=int, default=5, help='timed steps per variant')
    ap.add_argument('--warmup-steps', type=int, default=2, help='untimed steps first (CUDA kernels, allocator)')
    ap.add_argument('--lora', type=int, default=8, help='LoRA rank (0: full fine-tuning)')
    ap.add_argument('--lora-scope', default='lora', help='lora | lora+embeddings | lora-all-linear')
    ap.add_argument('--dtype', default='auto', help='auto (bf16 on CUDA) | float32 | bfloat16')
    ap.add_argument('--gradient-checkpointing', action='store_true')
    ap.add_argument('--device', default='auto')
    ap.add_argument('--variants', nargs='+', default=['SFT', 'ToxiTrace'], choices=['SFT', 'ToxiTrace'])
    ap.add_argument('--count-only', action='store_true', help='only count the trainable parameters of every scope (CPU, no steps)')
    ap.add_argument('--threads', type=int, default=0, help='torch intra-op threads (0: the default)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='benchmarks/results/decoder_step.json')
    args = ap.parse_args(argv)

    import torch
    from toxitrace.model import resolve_device
    from toxitrace.decoders import LORA_SCOPES, add_lora, trainable_parameters
    from toxitrace.runs import run_record
    if args.lora_scope not in LORA_SCOPES: ap.error(f'--lora-scope must be one of {LORA_SCOPES}')
    if args.threads: torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device != 'cuda' and not args.count_only and args.layers == 28 and args.hidden is None:   # the full-size run, on a CPU
        print(f'No CUDA device here: step time and peak memory are measured on a GPU. There, run\n\n    {GPU_COMMAND}\n')
        return 2
    config = {k: v for k, v in vars(args).items() if k != 'out'}
    if args.count_only:
        with torch.device('meta'):                       # shapes only: no memory, no time
            counts = {s: trainable_parameters(add_lora(qwen3_classifier(args.layers, args.hidden, args.vocab), r=args.lora or 8, scope=s))
                      for s in LORA_SCOPES}
        res = dict(run_record(**config), counts=counts)
    else:
        rows = [measure(args, v, device) for v in args.variants]
        for r in rows: print(f"{r['variant']:>10}: {r['seconds_per_step']:.3f} s/step" + (f", peak {r['peak_memory_gib']:.2f} GiB" if 'peak_memory_gib' in r else '')
                             + f", {r['trainable']:,} of {r['total']:,} parameters trainable")
        ratio = rows[-1]['seconds_per_step'] / rows[0]['seconds_per_step'] if len(rows) == 2 else None
        res = dict(run_record(**config), device=device, gpu=torch.cuda.get_device_name() if device == 'cuda' else None,
                   results=rows, toxitrace_over_sft=ratio)
    print(json.dumps(res.get('counts') or dict(toxitrace_over_sft=res['toxitrace_over_sft']), indent=1))
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')
    print(f'Written {out}')


if __name__ == '__main__':
    sys.exit(main())
