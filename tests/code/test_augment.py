"""DiffuseIT-M on tiny random networks: pair sampling, the schedule, the exact sampler against a
literal (reference-shaped) implementation, the fast sampler's cost, hair preservation by
construction, the losses, the scalp-only colour match and the realism metrics."""

from dataclasses import replace
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest
import torch

from scalpvision.augment.compose import (
    composite, editable_region, feathered, match_scalp_colour, mkl_transfer,
)
from scalpvision.augment.diffusion import Backbone, Schedule, build_trained_unet
from scalpvision.augment.encoder import GuidanceEncoder, build_scalp_vit
from scalpvision.augment.evaluate import frechet_distance, kid, transfer_rates
from scalpvision.augment.losses import Targets, guidance_loss
from scalpvision.augment.pairs import inverse_frequency, sample_pairs
from scalpvision.augment.sampler import Sampler
from _params import PARAMS

H, W = 16, 24


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    dp = NS(height=H, width=W, channels=(8, 16), layers_per_block=1, attention_lowest=True)
    unet = build_trained_unet(dp)
    vit = build_scalp_vit(NS(patch=8, dim=32, depth=2, heads=2), H, W, with_heads=False)
    return unet, vit


def _sampler(nets, **sp):
    unet, vit = nets
    enc = GuidanceEncoder(vit, H, (0.5,) * 3, (0.25,) * 3, "tiny")
    base = PARAMS.augment.sampler
    p = replace(base, respacing=20, skip=8, sem_until=6, **sp)
    return Sampler(Backbone(unet, (H, W), "tiny"), enc, Schedule.linear(1000, 1e-4, 0.02), p)


def _inputs(b=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.rand(b, 3, H, W, generator=g) * 2 - 1
    trg = torch.rand(b, 3, H, W, generator=g) * 2 - 1
    m = torch.ones(b, 1, H, W)
    m[:, :, :, :6] = 0  # the kept (hair) band
    return src, trg, m


# ------------------------------------------------------------------------------ pairs
def _labels(n=400, seed=0):
    rng = np.random.default_rng(seed)
    g = np.stack([rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05]) for _ in range(3)], 1)
    return pd.DataFrame({"image_id": [f"im{i}" for i in range(n)], "dandruff": g[:, 0],
                         "sebum": g[:, 1], "erythema": g[:, 2]})


def test_pairs_carry_the_target_triple_never_the_source_and_are_seeded():
    rows = _labels()
    pairs, _ = sample_pairs(rows, rows.head(100), 300, 3, False, seed=4)
    assert len(pairs) == 300
    lab = rows.set_index("image_id")
    t = lab.loc[pairs.target, ["dandruff", "sebum", "erythema"]].to_numpy()
    assert (t == pairs[["dandruff", "sebum", "erythema"]].to_numpy()).all()
    assert (pairs.source != pairs.target).all()
    assert (pairs.source_label != pairs.target_label).all()  # identical labels are skipped
    again, _ = sample_pairs(rows, rows.head(100), 300, 3, False, seed=4)
    pd.testing.assert_frame_equal(pairs, again)


def test_pairs_more_severe_and_inverse_frequency_flatten_the_grades():
    rows = _labels()
    pairs, unserved = sample_pairs(rows, rows.head(100), 400, 4, True, seed=2)
    src = rows.set_index("image_id").loc[pairs.source, ["dandruff", "sebum", "erythema"]]
    trg = pairs[["dandruff", "sebum", "erythema"]].to_numpy()
    assert (trg >= src.to_numpy()).all() and (trg > src.to_numpy()).any(1).all()
    # the rare grade 3 (5 % of images) is drawn far more often than its share
    assert (pairs.erythema == 3).mean() > 0.2
    w = inverse_frequency(rows[["dandruff", "sebum", "erythema"]].to_numpy())
    assert np.allclose(w.sum(1), 1) and (np.diff(w, axis=1) > 0).all()
    top = pd.DataFrame({"image_id": ["max"], "dandruff": [3], "sebum": [3], "erythema": [3]})
    _, un = sample_pairs(pd.concat([rows, top]), top, 2, 1, True, seed=0)
    assert un == ["max"]  # nowhere more severe to go: reported, not dropped silently


# --------------------------------------------------------------------------- schedule
def test_respacing_matches_guided_diffusion():
    s = Schedule.linear(1000, 1e-4, 0.02).respaced(200)
    assert len(s.t) == 200 and s.t[0] == 0 and s.t[-1] == 999
    assert s.t[119] == 597 and s.t[100] == 502  # reference-method.md §9.2
    assert np.sqrt(s.alphas_cumprod[119]) == pytest.approx(0.163, abs=1e-3)
    assert np.allclose(np.cumprod(1 - s.betas), s.alphas_cumprod)


# ---------------------------------------------------------------------- exact == literal
def _literal(smp: Sampler, src, trg, m, gen) -> torch.Tensor:
    """The reference's shape of the exact sampler: the U-Net twice per step (no-grad for the
    mean, with grad inside cond_fn), every encoder feature recomputed at every call (source
    twice, target, previous x_in, x_in), the previous x_in kept as an image."""
    s, sp, w = smp.sched, smp.sp, smp.sp.weights
    start = sp.respacing - sp.skip - 1
    x = s.q_sample(src, start, torch.randn(src.shape, generator=gen))
    x_prev = src
    for i in range(start, -1, -1):
        reps = sp.first_step_repeats if i == start else 1
        for r in range(reps):
            t = torch.full((len(x),), int(s.t[i]))
            with torch.no_grad():
                eps, _ = smp.net(x, t)
                mean = s.posterior_mean(s.x0_from_eps(x, i, eps).clamp(-1, 1), x, i)
            xt = x.detach().requires_grad_(True)
            eps2, _ = smp.net(xt, t)
            x0 = s.x0_from_eps(xt, i, eps2)
            a = float(np.sqrt(1 - s.alphas_cumprod[i]))
            x_in = a * x0 + (1 - a) * xt
            sk, sc = smp.enc((src + 1) / 2)
            _, _sc_again = smp.enc((src + 1) / 2)
            _, tc = smp.enc((trg + 1) / 2)
            _, pc = smp.enc((x_prev + 1) / 2)
            feats = smp.enc((x_in + 1) / 2)
            loss, _ = guidance_loss(x_in, x0, Targets(src, trg, m, sk.detach(), sc.detach(),
                                                      tc.detach()), feats,
                                    pc.detach() if i > sp.sem_until else None, w,
                                    sp.contra_tau)
            (g,) = torch.autograd.grad(loss, xt)
            logvar = s.log_variance(i, None)
            mean = mean - float(np.exp(logvar)) * g
            x_prev = x_in.detach()
            noise = torch.randn(xt.shape, generator=gen)
            x = (mean + (float(np.exp(0.5 * logvar)) * noise if i > 0 else 0)).detach()
            x = m * x + (1 - m) * s.q_sample(src, i, torch.randn(xt.shape, generator=gen))
            if r < reps - 1:
                b = float(s.betas[i])
                x = np.sqrt(1 - b) * x + np.sqrt(b) * torch.randn(x.shape, generator=gen)
            last = x0.detach()
    return (1 - m) * src + m * last.clamp(-1, 1)


def test_exact_mode_equals_the_literal_implementation_with_fewer_evaluations(nets):
    smp = _sampler(nets, mode="exact", first_step_repeats=2, max_restarts=0)
    src, trg, m = _inputs()
    fast_path = smp.sample(src, trg, m, "diffuseit_m", torch.Generator().manual_seed(3))
    literal = _literal(smp, src, trg, m, torch.Generator().manual_seed(3))
    assert torch.allclose(fast_path, literal, atol=1e-5)
    steps = smp.start + 2  # 12 levels, the first twice
    c = smp.counters
    b = len(src)  # counted per image
    assert (c.unet_forward, c.unet_backward) == (steps * b, steps * b)  # literal: 2x forwards
    assert c.encoder_forward == (steps + 2) * b  # literal: 5 per step


def test_a_batch_equals_its_images_alone_in_the_loss_gradient(nets):
    smp = _sampler(nets, mode="exact")
    src, trg, m = _inputs(b=3)
    x = (torch.rand(3, 3, H, W) * 2 - 1).requires_grad_(True)

    def grad(sl):
        tg = smp.targets(src[sl], trg[sl], m[sl])
        (loss, _), _ = smp._loss(x[sl], x[sl], tg, tg.src_cls, 10, smp.sp.weights)
        return torch.autograd.grad(loss, x)[0][sl]

    assert torch.allclose(grad(slice(0, 3))[1], grad(slice(1, 2))[0], atol=1e-5)


def test_fast_mode_needs_no_unet_backward_and_few_forwards(nets):
    smp = _sampler(nets, mode="fast", fast_steps=4)
    src, trg, m = _inputs()
    smp.sample(src, trg, m, "diffuseit_m", torch.Generator().manual_seed(0))
    assert smp.counters.unet_forward == 4 * len(src) and smp.counters.unet_backward == 0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_the_kept_region_is_the_source_and_diffuseit_changes_it(nets, mode):
    smp = _sampler(nets, mode=mode, max_restarts=0)
    src, trg, m = _inputs()
    out = smp.sample(src, trg, m, "diffuseit_m", torch.Generator().manual_seed(0))
    assert torch.equal(out[..., :6], src[..., :6])
    assert (out[..., 6:] - src[..., 6:]).abs().mean() > 0.05
    plain = smp.sample(src, trg, m, "diffuseit", torch.Generator().manual_seed(0))
    assert (plain[..., :6] - src[..., :6]).abs().mean() > 0.05  # no mask: hair not kept


def test_range_restarts_are_capped(nets):
    smp = _sampler(nets, mode="exact", max_restarts=2, range_threshold=-1.0)
    smp.sample(*_inputs(), "diffuseit_m", torch.Generator().manual_seed(0))
    assert smp.counters.restarts == 2


def test_mask_loss_compares_with_the_masked_source():
    w = replace(PARAMS.augment.sampler.weights, style=0, mse=0, ssim=0, contra=0, sem=0, range=0)
    src, trg, m = _inputs(b=1)
    x = src.clone()
    x[..., 6:] = 0.9  # the scalp changed, the kept band identical
    feats = (torch.zeros(1, 4, 8), torch.zeros(1, 8))
    loss, parts = guidance_loss(x, x, Targets(src, trg, m, None, None, None), feats, None, w,
                                0.07)
    assert float(loss) == 0.0  # the reference's unmasked source would add a constant here
    x[..., 0] = 5.0
    assert float(guidance_loss(x, x, Targets(src, trg, m, None, None, None), feats, None, w,
                               0.07)[0]) > 0


# ---------------------------------------------------------------------------- encoder
def test_encoder_keys_are_the_last_blocks_keys_from_one_forward(nets):
    _, vit = nets
    enc = GuidanceEncoder(vit, H, (0.5,) * 3, (0.25,) * 3, "tiny")
    x = torch.rand(2, 3, H, W)
    keys, cls = enc(x)
    assert enc.calls == 1 and keys.shape == (2, 1 + (H // 8) * (W // 8), 32)
    # independently: the last block's input, its first norm, the key rows of its qkv
    inter = vit.forward_intermediates(enc.prepare(x), indices=[0], return_prefix_tokens=True,
                                      norm=False, intermediates_only=True, output_fmt="NLC")
    tokens, prefix = inter[0]
    z = vit.blocks[-1].norm1(torch.cat([prefix, tokens], 1))
    qkv = vit.blocks[-1].attn.qkv
    k = z @ qkv.weight[32:64].T + qkv.bias[32:64]
    assert torch.allclose(keys, k, atol=1e-5)
    out = vit.forward_features(enc.prepare(x))  # after the final norm
    assert torch.allclose(vit.norm(cls), out[:, 0], atol=1e-5)


def test_dino_loads_from_a_local_file_only(tmp_path):
    import timm

    from scalpvision.augment.encoder import load_encoder
    from scalpvision.errors import MissingInputError

    path = tmp_path / "dino_s8.pth"
    torch.save(timm.create_model("vit_small_patch8_224", num_classes=0).state_dict(), path)
    gp = replace(PARAMS.guidance, source="dino", dino_model="vit_small_patch8_224.dino",
                 checkpoint=str(path), short_side=64)
    enc = load_encoder(gp)
    x = torch.rand(1, 3, 48, 64)
    keys, cls = enc(x)
    h, w = enc.prepare(x).shape[-2:]
    assert h == 64 and keys.shape == (1, 1 + (h // 8) * (w // 8), 384)
    assert cls.shape == (1, 384) and "DINO" in enc.name
    with pytest.raises(MissingInputError, match="no such file"):
        load_encoder(replace(gp, checkpoint=str(tmp_path / "absent.pth")))


# ----------------------------------------------------------------------------- compose
def test_composite_keeps_every_hair_pixel_of_the_source():
    rng = np.random.default_rng(0)
    src = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    hair = np.zeros((48, 64), bool)
    hair[20:23, :] = True
    gen = np.full((12, 16, 3), 200, np.uint8)
    out = composite(src, gen, feathered(editable_region(hair, "inverse_hair"), "inverse_hair"))
    assert (out[hair] == src[hair]).all()
    assert (out[:10] != src[:10]).any()
    assert (composite(src, gen, editable_region(hair, "zeros")) == src).all()


def test_scalp_colour_match_keeps_hair_and_moves_the_scalp():
    rng = np.random.default_rng(1)
    gen = rng.normal(100, 10, (32, 32, 3)).clip(0, 255).astype(np.uint8)
    gen[:4] = 20  # hair
    region = np.ones((32, 32), np.float32)
    region[:4] = 0
    target = rng.normal((180, 90, 90), 5, (32, 32, 3)).clip(0, 255).astype(np.uint8)
    out = match_scalp_colour(gen, region, target, np.zeros((32, 32), bool))
    assert (out[:4] == 20).all()
    assert np.allclose(out[4:].reshape(-1, 3).mean(0), (180, 90, 90), atol=2)
    a = rng.normal(0, 1, (500, 3)) @ np.array([[1, .5, 0], [0, 1, 0], [0, 0, 2]])
    b = rng.normal(0, 1, (500, 3)) * 3
    t = mkl_transfer(a, b)
    assert np.allclose(np.cov(((a - a.mean(0)) @ t).T), np.cov(b.T), atol=1e-6)


# ----------------------------------------------------------------------------- metrics
def test_kid_is_unbiased_and_fd_zero_for_identical_sets():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (60, 8)), rng.normal(0, 1, (60, 8))
    same, _ = kid(a, b, 30, 50, 0)
    shifted, _ = kid(a, b + 1.0, 30, 50, 0)
    assert abs(same) < 0.1 and shifted > 50 * abs(same)  # unbiased: ~0 up to its noise
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b + 1.0) > frechet_distance(a, b)


def test_transfer_rates_count_only_pairs_whose_grade_changes():
    src = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    trg = np.array([[2, 0, 0], [1, 0, 3], [0, 3, 0]])
    pred_src = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    pred_gen = np.array([[2, 0, 0], [1, 0, 1], [0, 2, 0]])
    r = transfer_rates(pred_gen, pred_src, src, trg)
    assert r["dandruff_pairs"] == 1 and r["dandruff_reach"] == 1.0
    assert r["erythema_reach"] == 0.0 and r["erythema_toward"] == 1.0
    assert r["sebum_reach"] == 0.0 and r["reach"] == pytest.approx(1 / 3)
    assert r["reach_source"] == 0.0
