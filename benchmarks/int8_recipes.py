#!/usr/bin/env python
"""Faster CPU classification passes against fp32 (issue #26), side by side in one process: for each recipe, label
agreement with fp32 at the detector's threshold, mean and max |dP| on --limit COLD test texts (0: the whole split;
deterministic), and the forward-pass speed-up over fp32 on --time-texts of them (the minimum over --repeats rounds,
every recipe once a round, in turn, so load that comes and goes hits them all).

Recipes: torch dynamic int8 of chosen linear layers (per tensor or per output channel), the first and last layers
kept in fp32, bf16 and fp16 copies on the CPU, and the cascade of `Detector.with_int8(margin=m)`: windows whose int8
P(toxic) lies within m of the threshold are scored again in fp32. The cascade's margin is chosen on --dev-limit COLD
dev texts (the smallest of --margins whose dev agreement reaches --target) and reported on test.

    nice .venv/bin/python benchmarks/int8_recipes.py --model MODEL --limit 0 --threads 1
"""
import argparse, copy, json, os, sys, time
from pathlib import Path

LAYER_SETS = {'all linear': ('',), 'q,k,v + ffn-in': ('attention.self.', 'intermediate.'), 'ffn (in + out)': ('intermediate.', 'layer.{}.output.dense'),
              'all but attention output': ('attention.self.', 'intermediate.', 'layer.{}.output.dense'), 'q,k,v': ('attention.self.',), 'ffn-in': ('intermediate.',)}

def linear_names(model, keys, skip_layers=()) -> list:
    "Names of the linear layers of `model` containing one of `keys` ('layer.{}.output.dense': the FFN output of any layer), not in the encoder layers `skip_layers`."
    import torch, re
    out = []
    for n, m in model.named_modules():
        if not isinstance(m, torch.nn.Linear): continue
        layer = re.search(r'\.layer\.(\d+)\.', n)
        if layer and int(layer.group(1)) in skip_layers: continue
        if any((re.search(r'layer\.\d+\.output\.dense$', n) if k == 'layer.{}.output.dense' else k in n) for k in keys): out.append(n)
    return out

def quantised(model, names, per_channel=True):
    "A dynamic-int8 copy of `model` with the linear layers `names` quantised (weights per output channel or per tensor)."
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic
    qc = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    return quantize_dynamic(copy.deepcopy(model).eval(), {n: qc for n in names}, dtype=torch.qint8)

class Cast(object):
    "A copy of `model` in `dtype` that takes the fp32 inputs (ids, mask) and returns float logits."
    def __init__(self, model, dtype): self.m, self.dtype = copy.deepcopy(model).eval().to(dtype), dtype
    def __call__(self, ids, mask): return self.m(ids, mask).float()
    def parameters(self): return self.m.parameters()

class OrtClassifier(object):
    "An ONNX Runtime session (one thread) standing in for the classifier: takes (ids, mask) tensors, returns float logits."
    def __init__(self, path, threads:int=1):
        import onnxruntime as ort
        o = ort.SessionOptions(); o.intra_op_num_threads = o.inter_op_num_threads = threads
        self.s = ort.InferenceSession(str(path), o, providers=['CPUExecutionProvider'])
    def __call__(self, ids, mask):
        import torch
        return torch.from_numpy(self.s.run(None, {'input_ids': ids.numpy(), 'attention_mask': mask.numpy()})[0])

def onnx_recipes(det, folder:Path, threads:int=1) -> dict:
    """ONNX Runtime fp32 and dynamic int8 (every MatMul, weights per channel) of `det.model`, exported with `torch.onnx.export`.
    The exported wrapper is put in eval mode first: `torch.onnx.export` restores the *wrapper's* training flag afterwards, and a fresh
    `nn.Module` is in training mode, so without it the wrapped model comes back with dropout on (what made an earlier fp32 export look 4.6% off)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    class Wrap(torch.nn.Module):
        def __init__(s, m): super().__init__(); s.m = m
        def forward(s, input_ids, attention_mask): return s.m(input_ids, attention_mask)
    enc = det.encode(['你好，这是一个用来导出的例子', '短句'])
    ids, mask, _ = det.padded(enc, [0, 1])                  # traced with padding: a mask of all ones would be dropped from the graph
    w = Wrap(det.model).eval()
    torch.onnx.export(w, (torch.from_numpy(ids), torch.from_numpy(mask)), folder/'fp32.onnx', input_names=['input_ids', 'attention_mask'],
                      output_names=['logits'], dynamic_axes={'input_ids': {0: 'b', 1: 't'}, 'attention_mask': {0: 'b', 1: 't'}, 'logits': {0: 'b'}},
                      opset_version=17, dynamo=False)
    assert not det.model.training
    quantize_dynamic(str(folder/'fp32.onnx'), str(folder/'int8.onnx'), weight_type=QuantType.QInt8, per_channel=True)
    return {'onnxruntime fp32': (OrtClassifier(folder/'fp32.onnx', threads), 0.0), 'onnxruntime int8 (all MatMul, per channel)': (OrtClassifier(folder/'int8.onnx', threads), 0.0)}

def recipes(det, fp16:bool=False) -> dict:
    "{name: (classifier, margin)}: the classification models to compare (the fp32 attribution model untouched)."
    import torch
    m, L = det.model, det.model.encoder.config.num_hidden_layers
    inner = (0, L - 1)
    out = {'fp32': (None, 0.0), 'all linear, per tensor (naive)': (quantised(m, linear_names(m, ('',)), per_channel=False), 0.0)}
    for name, keys in LAYER_SETS.items(): out[f'{name}, per channel'] = (quantised(m, linear_names(m, keys)), 0.0)
    out['all linear, first + last layer fp32'] = (quantised(m, linear_names(m, ('encoder.encoder.layer.',), inner)), 0.0)
    out['q,k,v + ffn-in, first + last layer fp32'] = (quantised(m, linear_names(m, LAYER_SETS['q,k,v + ffn-in'], inner)), 0.0)
    out['bf16'] = (Cast(m, torch.bfloat16), 0.0)
    if fp16: out['fp16'] = (Cast(m, torch.float16), 0.0)          # ~5x slower than fp32 on a CPU: opt-in
    return out

def with_classifier(det, clf, margin):
    "A shallow copy of `det` classifying with `clf` (None: fp32) and the fp32 cascade within `margin`."
    d = copy.copy(det)
    d.int8_model, d.int8_margin = clf, margin
    return d

def agreement(p, p32, thr) -> dict:
    import numpy as np
    d = np.abs(p - p32)
    return dict(label_agreement=round(float(((p >= thr) == (p32 >= thr)).mean()), 4), n_flips=int(((p >= thr) != (p32 >= thr)).sum()),
                mean_abs_dp=round(float(d.mean()), 4), max_abs_dp=round(float(d.max()), 4))

def cascade(pq, p32, thr, margin):
    "What the cascade returns: fp32 where the int8 P is within `margin` of `thr`, else the int8 P (the fp32 re-run is the fp32 P, to ~1e-7)."
    import numpy as np
    near = np.abs(pq - thr) < margin
    return np.where(near, p32, pq), float(near.mean())

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, help='a saved classifier folder')
    ap.add_argument('--limit', type=int, default=0, help='COLD test texts for agreement (0: the whole split)')
    ap.add_argument('--dev-limit', type=int, default=1000, help='COLD dev texts to choose the cascade margin on')
    ap.add_argument('--time-texts', type=int, default=256); ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--margins', default='0.005,0.01,0.02,0.03,0.05,0.075,0.1,0.15'); ap.add_argument('--target', type=float, default=0.998)
    ap.add_argument('--cascade-bases', default='bf16;q,k,v + ffn-in, per channel;all linear, per channel;all but attention output, per channel;onnxruntime int8 (all MatMul, per channel)')
    ap.add_argument('--fp16', action='store_true', help='also an fp16 copy (slow on CPUs)')
    ap.add_argument('--onnx', action='store_true', help='also ONNX Runtime fp32 and int8 (needs onnx and onnxruntime importable)')
    ap.add_argument('--extra-path', action='append', default=[], help='a folder appended to sys.path (e.g. where onnxruntime was pip-installed with --target)')
    ap.add_argument('--only', default=None, help="the recipes to run besides fp32, ';'-separated (default: all)")
    ap.add_argument('--batch-size', type=int, default=32); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='benchmarks/results/int8_recipes.json')
    args = ap.parse_args(argv)
    import warnings, numpy as np, torch
    from toxitrace.data import load_dataset, resolve_data_dir
    from toxitrace.detector import Detector
    from toxitrace.runs import run_record
    warnings.filterwarnings('ignore')
    torch.set_num_threads(args.threads)
    load = [os.getloadavg()]
    det = Detector.from_pretrained(args.model)
    thr, data = det.threshold, resolve_data_dir(args.data_dir)
    test = load_dataset('cold', 'test', data).sample(frac=1, random_state=args.seed).text.tolist()
    test = test[:args.limit] if args.limit else test
    dev = load_dataset('cold', 'dev', data).sample(frac=1, random_state=args.seed).text.tolist()[:args.dev_limit]
    rs = recipes(det, args.fp16)
    if args.onnx:
        import tempfile
        for p in args.extra_path: sys.path.append(p)        # after site-packages: a folder where onnxruntime and onnx were installed
        rs |= onnx_recipes(det, Path(tempfile.mkdtemp()), args.threads)
    if args.only: rs = {k: v for k, v in rs.items() if k == 'fp32' or k in args.only.split(';')}
    dets = {name: with_classifier(det, clf, 0.0) for name, (clf, _) in rs.items()}
    probs = {}
    for name, d in dets.items():
        t0 = time.perf_counter(); probs[name] = d.proba(test, args.batch_size)
        print(f'{name}: {len(test)} test texts in {time.perf_counter() - t0:.0f} s', file=sys.stderr, flush=True)
    p32 = probs['fp32']
    rows = [dict(recipe=name, base=name, margin=0.0, **agreement(probs[name], p32, thr)) for name in rs]
    bases = [b for b in args.cascade_bases.split(';') if b in rs]
    dev_p = {name: dets[name].proba(dev, args.batch_size) for name in ['fp32', *bases]} if args.dev_limit else {}
    chosen = {}
    for b in bases:                                     # the smallest margin reaching --target on dev
        ok = [m for m in map(float, args.margins.split(',')) if agreement(cascade(dev_p[b], dev_p['fp32'], thr, m)[0], dev_p['fp32'], thr)['label_agreement'] >= args.target]
        chosen[b] = min(ok) if ok else max(map(float, args.margins.split(',')))
    for b in bases:
        for m in map(float, args.margins.split(',')):
            p, share = cascade(probs[b], p32, thr, m)
            rows.append(dict(recipe=f'{b} + fp32 within ±{m:g}', base=b, margin=m, chosen_on_dev=m == chosen[b], rescored_share=round(share, 4), **agreement(p, p32, thr)))
    timed_dets = {name: dets[name] for name in rs} | {f'{b} + fp32 within ±{chosen[b]:g}': with_classifier(det, rs[b][0], chosen[b]) for b in bases}
    xs = test[:args.time_texts]
    for d in timed_dets.values(): d.proba(xs[:32], args.batch_size)            # warm-up
    best = {k: float('inf') for k in timed_dets}
    for _ in range(args.repeats):
        for k, d in timed_dets.items():
            t0 = time.perf_counter(); d.proba(xs, args.batch_size); best[k] = min(best[k], time.perf_counter() - t0)
    for r in rows:
        if r['recipe'] in best: r['forward_speedup'] = round(best['fp32'] / best[r['recipe']], 2); r['texts_per_s'] = round(len(xs) / best[r['recipe']], 1)
        print(json.dumps(r, ensure_ascii=False), flush=True)
    load.append(os.getloadavg())
    res = dict(run_record(**vars(args)), model=str(args.model), threshold=thr, max_length=det.max_length, n_test=len(test), n_dev=len(dev),
               n_timed=len(xs), rows=rows, cascade_margin_chosen_on_dev=chosen, load_average_before_after=load,
               note='shared 2-core machine with a training job on both cores: absolute texts/s move with the load; speed-ups are measured back to back, one torch thread')
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, ensure_ascii=False) + '\n', encoding='utf-8')

if __name__ == '__main__': sys.exit(main())
