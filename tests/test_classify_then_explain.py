"""Classify, then explain (07_detector) on real texts: P(toxic) and the spans of flagged texts are those of explaining all.

`Detector.predict` runs one forward pass for every text and the attribution pass only for the windows of flagged
texts; `predict(saliency='all')` attributes every window in one pass (today's path before classify-then-explain; spans still
only from the flagged windows of flagged texts). On 300 COLD test texts (about a tenth longer
than `max_length=32` tokens, so read in windows), scored by the small encoder (2 layers) with a head trained for a
few steps on COLD train, the two must give the same P(toxic), labels and flagged texts' spans, and the same saliency
for flagged texts read in one window. Skipped (visibly) without the shared data or the small encoder.
"""
from pathlib import Path
import numpy as np, pytest, torch

from toxitrace.data import load_dataset, shared_data_dir
from toxitrace.model import small_encoder_path

DATA = shared_data_dir(Path(__file__).parent)
pytestmark = pytest.mark.skipif(DATA is None or not Path(small_encoder_path()).is_dir(),
                                reason='needs the shared data and ../shared/models/me5-small-zh')

def quick_detector(max_length=32):
    "The small encoder's first 2 layers and a head trained 8 steps on 256 COLD train texts: a `Detector`."
    from toxitrace.model import ToxicityClassifier, load_encoder, encode_texts, pad_collate
    from toxitrace.detector import Detector
    torch.manual_seed(0)
    enc, tok = load_encoder(small_encoder_path(), num_hidden_layers=2)
    model = ToxicityClassifier(enc, pooling='mean').train()
    train = load_dataset('cold', 'train', DATA).sample(256, random_state=0)
    e = encode_texts(tok, train.text.tolist(), max_length)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for k in range(0, 256, 32):
        ids, mask, _ = pad_collate([(e.input_ids[i], 0) for i in range(k, k + 32)], tok.pad_token_id)
        loss = torch.nn.functional.cross_entropy(model(ids, mask), torch.tensor(train.label.to_numpy()[k:k + 32]))
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval().zero_grad(set_to_none=True)
    return Detector(model, tok, max_length=max_length)

def test_classify_then_explain_matches_explain_all():
    torch.set_num_threads(1)
    det = quick_detector()
    texts = load_dataset('cold', 'test', DATA).sample(300, random_state=0).text.tolist()
    p = np.sort(det.proba(texts))
    det.threshold = float((p[len(p) // 2] + p[len(p) // 2 + 1]) / 2)    # about half flagged, no text at the threshold
    enc = det.encode(texts)
    n_windows = np.bincount(enc.owner, minlength=len(texts))
    assert (n_windows > 1).sum() >= 10, 'too few long texts to test the windows'
    fast, full = det.predict(texts, progress=False), det.predict(texts, progress=False, saliency='all')
    np.testing.assert_allclose([r['prob_toxic'] for r in fast], [r['prob_toxic'] for r in full], atol=1e-5)
    assert [r['label'] for r in fast] == [r['label'] for r in full]
    flagged = [i for i, r in enumerate(full) if r['label']]
    assert 100 <= len(flagged) <= 200 and any(n_windows[i] > 1 for i in flagged)
    assert [fast[i]['spans'] for i in flagged] == [full[i]['spans'] for i in flagged]
    assert all(fast[i]['spans'] for i in flagged)
    for i in flagged:
        if n_windows[i] == 1: np.testing.assert_allclose(fast[i]['saliency'], full[i]['saliency'], rtol=1e-4, atol=1e-6)
    assert all(fast[i]['spans'] == [] and fast[i]['saliency'] is None for i in range(len(texts)) if not fast[i]['label'])
