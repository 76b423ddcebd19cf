"""The ADM converter against an independent ADM implementation on tiny random weights, the
legacy head order it depends on, and the loader's file checks."""

import pytest
import torch

from _adm_reference import ReferenceADM
from scalpvision.augment.adm import AdmConfig, convert_state_dict, paper_config, unet_for


def _randomise(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # ADM zero-inits output convs: random everything instead
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model


@pytest.mark.parametrize("num_classes", [0, 10])
def test_converted_unet_matches_the_reference_adm(num_classes):
    cfg = AdmConfig(image_size=16, model_channels=32, num_res_blocks=1, channel_mult=(1, 2, 2),
                    attention_ds=(2, 4), num_head_channels=16, learn_sigma=True,
                    num_classes=num_classes)
    ref = _randomise(ReferenceADM(32, 1, (1, 2, 2), (2, 4), 16, 6, num_classes)).eval()
    unet = unet_for(cfg).eval()
    unet.load_state_dict(convert_state_dict(ref.state_dict(), cfg), strict=True)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([3, 597])
    y = torch.tensor([1, 7]) if num_classes else None
    with torch.no_grad():
        want = ref(x, t, y)
        got = unet(x, t, class_labels=y).sample
    assert got.shape == (2, 6, 16, 16)
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())


def test_a_plain_chunk_of_qkv_would_be_wrong():
    cfg = AdmConfig(16, 32, 1, (1, 2), (2,), 8, True, 0)
    ref = _randomise(ReferenceADM(32, 1, (1, 2), (2,), 8, 6)).eval()
    sd = convert_state_dict(ref.state_dict(), cfg)
    wrong = dict(sd)
    w = ref.state_dict()["middle_block.1.qkv.weight"][..., 0]  # (3C, C), legacy order
    b = ref.state_dict()["middle_block.1.qkv.bias"]
    for name, wi, bi in zip(("to_q", "to_k", "to_v"), w.chunk(3), b.chunk(3)):
        wrong[f"mid_block.attentions.0.{name}.weight"] = wi
        wrong[f"mid_block.attentions.0.{name}.bias"] = bi
    unet, bad = unet_for(cfg).eval(), unet_for(cfg).eval()
    unet.load_state_dict(sd)
    bad.load_state_dict(wrong)
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([100])
    with torch.no_grad():
        want = ref(x, t)
        assert torch.allclose(unet(x, t).sample, want, atol=1e-4)
        assert not torch.allclose(bad(x, t).sample, want, atol=1e-2)


def test_paper_configs_have_the_paper_sizes():
    unet = unet_for(paper_config(256), device="meta")
    n = sum(p.numel() for p in unet.parameters())
    assert 550e6 < n < 556e6  # ADM-256 uncond: ~552.8 M
    unet512 = unet_for(paper_config(512), device="meta")
    assert unet512.config.num_class_embeds == 1000 and unet512.config.out_channels == 6


def test_loader_names_a_missing_checkpoint(tmp_path):
    from scalpvision.augment.adm import load_adm_checkpoint
    from scalpvision.errors import MissingInputError

    with pytest.raises(MissingInputError, match="no such ADM checkpoint"):
        load_adm_checkpoint(tmp_path / "256x256_diffusion_uncond.pt", 256)
