"""Every registered U²-Net variant builds, runs forward/backward on CPU at a small size, has
the published parameter count, and round-trips through a checkpoint."""

import pytest
import torch

from scalpvision.segmentation.u2net import U2NET_REGISTRY, build_u2net, multi_bce_loss

PARAMS_M = {"full": 44.0, "lite": 1.13}  # the U²-Net paper's 176.3 MB / 4.7 MB models


@pytest.mark.parametrize("variant", sorted(U2NET_REGISTRY))
def test_forward_backward_and_size(variant):
    torch.manual_seed(0)
    m = build_u2net(variant)
    n = sum(p.numel() for p in m.parameters()) / 1e6
    assert abs(n - PARAMS_M[variant]) / PARAMS_M[variant] < 0.03, n
    x = torch.randn(2, 3, 64, 80)  # not square, not a power of two beyond 16
    outs = m(x)
    assert len(outs) == 7 and all(o.shape == (2, 1, 64, 80) for o in outs)
    target = (torch.rand(2, 1, 64, 80) > 0.8).float()
    total, fused = multi_bce_loss(outs, target)
    total.backward()
    assert torch.isfinite(total) and fused <= total
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    m.eval()
    prob = m.predict(x)
    assert prob.min() >= 0 and prob.max() <= 1


def test_checkpoint_round_trip(tmp_path):
    a = build_u2net("lite").eval()
    torch.save(a.state_dict(), tmp_path / "w.pt")
    b = build_u2net("lite", checkpoint=tmp_path / "w.pt").eval()
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(a.predict(x), b.predict(x))


def test_unknown_variant_lists_valid():
    with pytest.raises(ValueError, match="full, lite"):
        build_u2net("huge")


def test_bn_recalibration_sets_stats_from_full_images():
    import numpy as np

    from scalpvision.segmentation.train import recalibrate_bn
    m = build_u2net("lite")
    imgs = [np.full((96, 128, 3), v, np.uint8) for v in (40, 200)]
    recalibrate_bn(m, imgs, long_side=128)
    first = m.encoders[0].conv_in.bn
    assert not m.training and first.momentum == 0.1
    assert int(first.num_batches_tracked) == 2 and torch.isfinite(first.running_var).all()
