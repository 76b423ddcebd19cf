"""Scalp-condition diagnosis (paper §3.3, §4.3): the four-head classifier (presence of dandruff,
excess sebum and erythema; the severity 0-3 of each), its training-set variants, the classical
colour/texture baseline, and the paper's 12-cell macro-F1 with the clinicians' metrics."""
