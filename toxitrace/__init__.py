"""Explainable Chinese toxicity detection: a classifier that returns contiguous toxic evidence spans from its own gradient saliency (ToxiTrace).

Modules:

- `toxitrace.experiment`: Tables 1 and 3 of the ToxiTrace paper as one command: a grid of `train_toxitrace` runs over data sets, seeds and variants (the CE-only baseline, ToxiTrace and its ablations), their mean ± std, and the paper's numbers beside ours."""

__version__ = "0.0.1"
