"""Every registered U²-Net variant builds, runs forward/backward on CPU at a small size, has
the published parameter count, and round-trips through a checkpoint."""

import numpy as np
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


def test_photometric_jitter_changes_appearance_not_geometry():
    from _params import train
    from scalpvision.segmentation.train import _sample, photometric_jitter
    rng = np.random.default_rng(0)
    img = np.full((64, 64, 3), (180, 140, 120), np.uint8)
    img[30:34] = (40, 30, 20)  # a dark hair across the crop
    outs = [photometric_jitter(img, np.random.default_rng(s)) for s in range(8)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert len({o.tobytes() for o in outs}) == 8
    # the hair stays darker than the skin around it under every jitter
    assert all(o[30:34].mean() < o[10:20].mean() - 20 for o in outs)
    assert np.array_equal(photometric_jitter(img, np.random.default_rng(3)), outs[3])
    mask = np.zeros((64, 64), bool)
    mask[30:34] = True
    cfg = train(crop=64, photometric=1.0)
    x, m, w = _sample(img, mask, cfg, rng)
    assert m.sum() == mask.sum() and not np.array_equal(x, img) and w.min() == 1


def test_predict_prob_mirrors_the_border_and_returns_the_image_size():
    from scalpvision.segmentation.inference import predict_prob
    model = U2NET_REGISTRY["lite"]().eval()
    img = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
    a, b = predict_prob(model, img, 128), predict_prob(model, img, 128, pad=0)
    assert a.shape == b.shape == (90, 130) and 0 <= a.min() and a.max() <= 1
    assert not np.allclose(a, b)  # the mirrored border reaches the network's output


def test_self_label_trusts_the_refined_mask_and_ignores_disagreement():
    from types import SimpleNamespace

    from scalpvision.segmentation.train import self_label
    refined = np.zeros((40, 40), bool)
    refined[10:14, 5:35] = True  # a hair the refiner grew
    prob = np.zeros((40, 40), np.float32)
    prob[10:14, 5:35] = 0.9
    prob[25:28, 5:35] = 0.3  # U²-Net leans to hair here, the refiner disagrees
    mask, weight = self_label(SimpleNamespace(refined=refined, prob=prob), unsure_below=0.15)
    assert np.array_equal(mask, refined)
    assert (weight[25:28, 5:35] == 0).all()  # unsure: no loss either way
    assert weight[11:13, 10:30].min() == 1 and weight[35:, :].min() == 1  # sure hair, sure skin
    assert weight[9, 20] == 0 or weight[10, 20] == 0  # the edge band is not trusted


def test_zero_weight_pixels_do_not_move_the_loss():
    torch.manual_seed(0)
    outs = [torch.randn(2, 1, 16, 16) for _ in range(7)]
    target = (torch.rand(2, 1, 16, 16) > 0.5).float()
    w = torch.ones_like(target)
    w[:, :, :8] = 0
    flipped = target.clone()
    flipped[:, :, :8] = 1 - flipped[:, :, :8]  # change the labels only where the weight is 0
    a, _ = multi_bce_loss(outs, target, 1.0, w)
    b, _ = multi_bce_loss(outs, flipped, 1.0, w)
    assert torch.allclose(a, b)
    c, _ = multi_bce_loss(outs, flipped, 1.0)
    assert not torch.allclose(a, c)


def test_self_training_phase_runs_after_the_pseudo_epochs_and_keeps_the_best(tmp_path):
    from scalpvision.io import write_image, write_mask
    from _params import train
    from scalpvision.segmentation.train import train_u2net
    rng = np.random.default_rng(0)
    pairs = []
    for k in range(4):
        img = np.full((64, 64, 3), 170, np.uint8)
        mask = np.zeros((64, 64), bool)
        mask[:, 20 + 5 * k:24 + 5 * k] = True
        img[mask] = 40
        write_image(tmp_path / f"i{k}.png", img)
        write_mask(tmp_path / f"m{k}.png", mask)
        pairs.append((str(tmp_path / f"i{k}.png"), str(tmp_path / f"m{k}.png")))
    calls = []

    def self_labels(model):
        calls.append(model.training)
        img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        return [(img, np.zeros((64, 64), bool), np.ones((64, 64), np.float32))] * 2

    cfg = train(epochs=1, batch_size=2, crop=32, infer_long_side=64, self_training_epochs=1)
    best, history = train_u2net(U2NET_REGISTRY["lite"](), pairs, {"pseudo": pairs[:1]}, cfg,
                                self_labels=self_labels)
    assert len(calls) == 1
    assert [h["phase"] for h in history] == ["pseudo pairs", "self-training"]
    assert sum(bool(h.get("best")) for h in history) >= 1 and best is not None
    best_rec = max(history, key=lambda h: h["val_dice_pseudo"])
    assert best_rec.get("best")  # the kept state is the best validated epoch of either phase


def test_onnxruntime_gives_pytorchs_probabilities_at_any_size():
    from scalpvision.segmentation.runtime import inference_model, runtime_name
    from scalpvision.segmentation.inference import predict_prob
    torch.manual_seed(0)
    model = build_u2net("lite")
    for mod in model.modules():  # stored BN statistics far from a batch's: a train-mode
        if isinstance(mod, torch.nn.BatchNorm2d):  # export would not match eval PyTorch
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    model.train()
    fast = inference_model(model, "onnxruntime")
    assert runtime_name(fast) == "onnxruntime" and runtime_name(model) == "torch"
    assert model.training  # the export leaves the model's mode as it was
    rng = np.random.default_rng(1)
    for hw, long_side in [((90, 130), 128), ((151, 97), 160)]:  # the graph is not fixed-size
        img = rng.integers(0, 255, (*hw, 3), dtype=np.uint8)
        a, b = predict_prob(fast, img, long_side), predict_prob(model, img, long_side)
        assert a.shape == hw and np.abs(a - b).max() < 1e-4
    assert inference_model(model, "torch") is model
    with pytest.raises(ValueError, match="valid: auto, onnxruntime, torch"):
        inference_model(model, "tensorrt")


def test_the_initial_weights_follow_the_seed_alone():
    from scalpvision.segmentation.train import seeded_u2net
    a = seeded_u2net("lite", 3)
    torch.rand(10)  # whatever ran before does not matter
    b, c = seeded_u2net("lite", 3), seeded_u2net("lite", 4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
