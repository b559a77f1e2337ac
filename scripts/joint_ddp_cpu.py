#!/usr/bin/env python
"""Data-parallel ToxiTrace on CPU: the toy pipeline of nbs/11_joint.ipynb (tiny BERT, lexicon refiner, template
reasoner) through `train_toxitrace` in two processes on the gloo backend, launched by accelerate:

    .venv/bin/accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no scripts/joint_ddp_cpu.py [--out DIR]

(Without CUDA, accelerate's `--multi_gpu` launcher starts the processes and `toxitrace.joint.distributed` makes the
Accelerator with cpu=True, which joins them on gloo.) Every rank checks: two processes on gloo; in the joint fit each
rank trained on half of the texts of every epoch (fastai's DistributedDL: batches of `bs` per process); after training the joint weights are identical on both ranks (DDP
averaged the gradients of Eq. 9, double backward included) and differ from the warm-up. Rank 0 writes OUT/ddp_check.json
and prints the result; the exit status is 0 only if every check holds.
"""
import argparse, json, os, sys, tempfile
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=None, help='run folder (default: a new temporary folder, the same on every rank)')
    ap.add_argument('--joint-epochs', type=int, default=2)
    args = ap.parse_args(argv)

    import pandas as pd, torch
    import torch.distributed as dist
    from fastai.callback.core import Callback
    from toxitrace.reasoning import LEXICON_GROUPS, NORMAL_REFERENCE, TOXIC_REFERENCE, TemplateReasoner
    from toxitrace.cusa import LexiconRefiner
    from toxitrace.pipeline import ToxiTraceConfig, train_toxitrace
    from toxitrace.joint import unwrap
    from toxitrace.runs import rank as this_rank, world_size
    from toxitrace.test_utils import tiny_char_bert

    torch.set_num_threads(1)
    texts = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧 nmsl', '谢谢你的帮助！', '这个人脑子有病😠', '我们一起去吃饭']
    labels = [1, 0, 1, 0, 1, 0]
    train = pd.DataFrame(dict(text=texts * 8, label=labels * 8))
    terms = {'蠢货': ('general',), '老家': ('region',), 'nmsl': ('general',), '脑子有病': ('general',)}
    vocab = texts + [TOXIC_REFERENCE, NORMAL_REFERENCE, '个人看法“”、'] + [w for g in LEXICON_GROUPS.values() for w in g]
    def tiny(): return tiny_char_bert(vocab, seed=0)
    tiny.name = 'tiny-bert'

    class Watch(Callback):
        "Batch sizes this rank trained on in the joint fit, and its weights before and after."
        order = 100
        def before_fit(self):
            self.joint = hasattr(self.learn, 'joint_batch')
            if self.joint: self.start, self.sizes = torch.cat([p.detach().flatten().clone() for p in unwrap(self.model).parameters()]), []
        def after_batch(self):
            if self.joint and self.training: self.sizes.append(len(self.yb[0]))
        def after_fit(self):
            if self.joint: self.end = torch.cat([p.detach().flatten().clone() for p in unwrap(self.model).parameters()])

    out = args.out
    if out is None:                                                       # one temporary folder, chosen by rank 0
        box = [tempfile.mkdtemp(prefix='toxitrace-ddp-') if this_rank() == 0 else None]
        if world_size() > 1:
            if not dist.is_initialized(): dist.init_process_group('gloo')
            dist.broadcast_object_list(box, 0)
        out = box[0]
    watch = Watch()
    cfg = ToxiTraceConfig(out=str(Path(out)/'run'), bs=8, max_length=32, reason_max_length=64, warmup_epochs=1,
                          joint_epochs=args.joint_epochs, evaluate=False)
    train_toxitrace(cfg, dict(train=train, valid=train.head(6)), tiny, LexiconRefiner(terms=list(terms)),
                    TemplateReasoner(terms), [watch], progress=False)

    world, rank = world_size(), this_rank()
    sums = [None] * max(world, 1)
    mine = dict(rank=rank, backend=dist.get_backend() if dist.is_initialized() else None, sizes=watch.sizes,
                end=watch.end.double().sum().item(), end_abs=watch.end.double().abs().sum().item(),
                moved=(watch.end - watch.start).abs().max().item())
    if dist.is_initialized(): dist.all_gather_object(sums, mine)
    else: sums = [mine]
    ends = [torch.zeros_like(watch.end) for _ in range(max(world, 1))]
    if dist.is_initialized(): dist.all_gather(ends, watch.end)
    else: ends = [watch.end]
    checks = {'two processes': world == 2, 'gloo backend': all(s['backend'] == 'gloo' for s in sums),
              f'each rank trained on its half of the {len(train)} texts per epoch': all(sum(s['sizes']) == args.joint_epochs * len(train) // 2 for s in sums),
              'the ranks end with identical joint weights': all(torch.equal(ends[0], e) for e in ends),
              'joint training changed the weights': all(s['moved'] > 0 for s in sums)}
    if rank == 0:
        report = dict(checks=checks, ranks=sums, out=str(out))
        Path(out, 'ddp_check.json').write_text(json.dumps(report, indent=2, default=str))
        for k, ok in checks.items(): print(f"{'ok ' if ok else 'FAIL'} {k}")
        print(f"per-rank batch sizes: {[s['sizes'] for s in sums]}; weight checksums: {[round(s['end'], 6) for s in sums]}")
        print(f'written {Path(out, "ddp_check.json")}')
    return 0 if all(checks.values()) else 1


if __name__ == '__main__': sys.exit(main())
