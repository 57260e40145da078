import pytest
import torch

from sapnet.models import ChannelAttention, ChannelResidualAttention, ConvLSTMCell, ResidualBlock, SAPNet, SAPNetConfig, SqueezeExcitation
from tests.conftest import tiny_model


def test_cra_matches_the_formula_on_a_hand_set_example():
    cra = ChannelResidualAttention(channels=2, reduction=2)  # hidden width 1
    with torch.no_grad():
        cra.squeeze.weight.copy_(torch.tensor([[1.0, -1.0]]).view(1, 2, 1, 1))
        cra.excite.weight.copy_(torch.tensor([[2.0], [0.5]]).view(2, 1, 1, 1))
        cra.residual.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]).view(2, 2, 1, 1))
    x = torch.tensor([[[[1.0, 3.0]], [[0.0, 2.0]]]])  # channel means p = (2, 1)
    # squeeze: relu(2 - 1) = 1; excite: (2, 0.5); residual: (2, -1); gate = sigmoid(4, -0.5)
    expected_gate = torch.sigmoid(torch.tensor([4.0, -0.5]))
    expected = x * expected_gate.view(1, 2, 1, 1)
    assert torch.allclose(cra(x), expected)


def test_se_and_ca_rescale_channels_by_a_gate_in_zero_one():
    x = torch.rand(2, 16, 5, 7) + 0.1
    for block in (SqueezeExcitation(16, 4), ChannelAttention(16)):
        y = block(x)
        ratio = y / x
        assert y.shape == x.shape
        assert torch.all((ratio > 0) & (ratio < 1))
        # the gate is one value per channel: constant over the spatial positions
        assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-6)


def test_convlstm_cell_state_update():
    cell = ConvLSTMCell(4)
    x = torch.randn(1, 4, 6, 6)
    h, c = cell(x, None)
    assert h.shape == c.shape == (1, 4, 6, 6)
    i, f, g, o = cell.gates(torch.cat((x, torch.zeros_like(x)), 1)).chunk(4, 1)
    expected_c = torch.sigmoid(i) * torch.tanh(g)  # previous c is zero
    assert torch.allclose(c, expected_c, atol=1e-6)
    assert torch.allclose(h, torch.sigmoid(o) * torch.tanh(expected_c), atol=1e-6)


@pytest.mark.parametrize("dilation", [1, 4, 16])
def test_residual_block_keeps_shape_for_every_dilation(dilation):
    block = ResidualBlock(8, dilation, "cra", 4)
    x = torch.rand(2, 8, 19, 23)
    assert block(x).shape == x.shape
    assert block.conv1.dilation == (dilation, dilation)
    assert torch.all(block(x) >= 0)  # relu(out + x)


def test_full_network_shapes_and_stage_outputs():
    model = SAPNet()
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(0.18e6, rel=0.05)
    x = torch.rand(2, 3, 21, 34)
    with torch.no_grad():
        final, stages = model(x, return_stages=True)
    assert final.shape == x.shape
    assert len(stages) == 6
    assert torch.equal(final, stages[-1])


def test_stages_share_weights():
    model = tiny_model(stages=3)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        _, stages = model(x, return_stages=True)
        # running stage() by hand with the same module reproduces every stage: one set of weights
        estimate, state = x, None
        for expected in stages:
            estimate, state = model.stage(x, estimate, state)
            assert torch.allclose(estimate, expected)
    deeper = SAPNet(SAPNetConfig(**{**model.config.to_dict(), "stages": 6}))
    assert sum(p.numel() for p in deeper.parameters()) == sum(p.numel() for p in model.parameters())


def test_ablation_options():
    prenet = SAPNet(attention="none", dilation=False)
    assert all(isinstance(block.att1, torch.nn.Identity) for block in prenet.blocks)
    assert [block.conv1.dilation[0] for block in prenet.blocks] == [1, 1, 1, 1, 1]
    assert [block.conv1.dilation[0] for block in SAPNet().blocks] == [1, 2, 4, 8, 16]
    assert isinstance(SAPNet(attention="se").blocks[0].att1, SqueezeExcitation)
    assert isinstance(SAPNet(attention="ca").blocks[0].att2, ChannelAttention)
    with pytest.raises(ValueError, match="attention"):
        SAPNetConfig(attention="transformer")
    with pytest.raises(ValueError, match="unknown SAPNet options"):
        SAPNetConfig.from_dict({"stages": 2, "depth": 3})
