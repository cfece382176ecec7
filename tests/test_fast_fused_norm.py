"""The fused GroupNorm + residual + ReLU equals eager GroupNorm + add + ReLU."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gn_det.layers import fused_norm
from gn_det.layers.fused_norm import group_norm_act, group_norm_scale_shift

CHANNELS_LAST = torch.channels_last


def group_norm(channels, groups):
    norm = nn.GroupNorm(groups, channels)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    return norm


def eager(x, norm, residual=None, relu=False):
    out = F.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)
    if residual is not None:
        out = out + residual
    return F.relu(out) if relu else out


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, CHANNELS_LAST])
@pytest.mark.parametrize("shape,groups", [((2, 64, 9, 7), 32), ((3, 32, 5, 11), 1),
                                          ((1, 16, 4, 4), 16)])
def test_scale_and_shift_reproduce_group_norm(shape, groups, memory_format):
    norm = group_norm(shape[1], groups)
    x = (torch.randn(shape) * 4 + 3).contiguous(memory_format=memory_format)
    scale, shift = group_norm_scale_shift(x, groups, norm.weight, norm.bias, norm.eps)
    torch.testing.assert_close(x * scale + shift, eager(x, norm), atol=2e-5, rtol=1e-5)


def group_norm_float64(x, groups, weight, bias, eps):
    """GroupNorm by its formula, in float64."""
    n, c, h, w = x.shape
    grouped = x.double().reshape(n, groups, -1)
    mean = grouped.mean(2, keepdim=True)
    var = (grouped - mean).square().mean(2, keepdim=True)
    normalized = ((grouped - mean) / (var + eps).sqrt()).reshape(n, c, h, w)
    return normalized * weight.double().reshape(1, c, 1, 1) + bias.double().reshape(1, c, 1, 1)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, CHANNELS_LAST])
@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_scale_and_shift_match_the_float64_formula_far_from_zero(offset, memory_format):
    # Activations whose mean is 1000 standard deviations from 0: float32 sums of squares would
    # lose the variance to cancellation (a quarter of it here); shifted sums must not. What is
    # left is x * scale + shift in float32: a few units of x's last place (2^-24 * offset).
    norm = group_norm(64, 32)
    x = (torch.randn(2, 64, 13, 11, dtype=torch.float64) + offset).float()
    x = x.contiguous(memory_format=memory_format)
    scale, shift = group_norm_scale_shift(x, 32, norm.weight, norm.bias, norm.eps)
    expected = group_norm_float64(x, 32, norm.weight, norm.bias, norm.eps)
    result = x.double() * scale.double() + shift.double()
    torch.testing.assert_close(result, expected, atol=1e-5 + 4 * offset * 2**-24, rtol=0)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, CHANNELS_LAST])
def test_scale_of_a_flat_channel_with_an_outlier_corner_matches_float64(memory_format):
    # A near-constant map (a uniform background) whose corner zero padding made an outlier: shifted
    # by that corner, float32 sums would lose the variance (z^2 = 1.6e5 times the rounding).
    norm = group_norm(8, 4)
    x = 1 + 0.01 * torch.randn(2, 8, 200, 260, dtype=torch.float64)
    x[:, :, 0, 0] = 5.0
    x = x.float().contiguous(memory_format=memory_format)
    scale, _ = group_norm_scale_shift(x, 4, norm.weight, norm.bias, norm.eps)
    var = x.double().reshape(2, 4, -1).var(2, unbiased=False)
    expected = norm.weight.double().reshape(1, 4, 2) / (var[:, :, None] + norm.eps).sqrt()
    torch.testing.assert_close(scale.double().reshape(2, 4, 2), expected, rtol=1e-4, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_scale_and_shift_of_half_precision_activations_sum_in_float32(dtype):
    # 256 values of up to ~40 per channel: their squares sum to ~1e5, past float16's 65504; a
    # bfloat16 sum would keep 8 bits of it.
    norm = group_norm(64, 32).to(dtype)
    x = (torch.randn(1, 64, 16, 16) * 10 + 5).to(dtype).contiguous(memory_format=CHANNELS_LAST)
    scale, shift = group_norm_scale_shift(x, 32, norm.weight, norm.bias, norm.eps)
    expected = group_norm_float64(x, 32, norm.weight, norm.bias, norm.eps)
    result = x.double() * scale.double() + shift.double()
    torch.testing.assert_close(result, expected, atol=2e-2, rtol=0)


def test_with_autograd_it_runs_eager_ops_and_keeps_its_input():
    norm = group_norm(64, 32)
    x = torch.randn(2, 64, 6, 6, requires_grad=True)
    residual = torch.randn(2, 64, 6, 6)
    before = x.detach().clone()
    out = group_norm_act(x, norm, residual, relu=True)
    assert torch.equal(out, eager(x, norm, residual, relu=True))
    assert torch.equal(x.detach(), before)
    out.sum().backward()
    assert x.grad is not None and norm.weight.grad is not None


def test_small_tensors_take_the_eager_ops_bit_for_bit():
    norm = group_norm(64, 32)
    x = torch.randn(2, 64, 6, 6)
    with torch.no_grad():
        assert torch.equal(group_norm_act(x.clone(), norm, relu=True), eager(x, norm, relu=True))


@pytest.fixture
def compile_small_tensors(monkeypatch):
    """Send every tensor to the compiled kernels (compiling them takes seconds on first use)."""
    monkeypatch.setattr(fused_norm, "CPU_MIN_COMPILED_BYTES", 0)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, CHANNELS_LAST])
def test_compiled_in_place_kernels_equal_eager(compile_small_tensors, memory_format):
    norm = group_norm(64, 32)
    x = (torch.randn(2, 64, 10, 12) * 3 + 1).contiguous(memory_format=memory_format)
    residual = torch.randn_like(x)
    with torch.no_grad():
        for args in [(None, False), (None, True), (residual, True)]:
            expected = eager(x, norm, *args)
            buffer = x.clone()
            out = group_norm_act(buffer, norm, *args)
            assert not fused_norm.compile_failed()
            assert out.data_ptr() == buffer.data_ptr()  # in place: no new activation tensor
            assert out.is_contiguous(memory_format=memory_format)
            torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_a_failing_compiler_falls_back_to_eager_with_a_warning(compile_small_tensors, monkeypatch):
    def broken_kernel(name):
        raise RuntimeError("no C++ compiler\nmore details")

    monkeypatch.setattr(fused_norm, "_kernel", broken_kernel)
    monkeypatch.setitem(fused_norm._state, "failed", False)
    norm = group_norm(64, 32)
    x = torch.randn(2, 64, 6, 6)
    with torch.no_grad(), pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler.*eager"):
        out = group_norm_act(x.clone(), norm, relu=True)
    assert torch.equal(out, eager(x, norm, relu=True))
    assert fused_norm.compile_failed()


@pytest.fixture
def fresh_compile_state(compile_small_tensors, monkeypatch):
    """No kernel compiled yet in this process, as for a user's first call."""
    import torch._dynamo

    monkeypatch.setattr(fused_norm, "_state",
                        {"failed": False, "compile_seconds": 0.0, "compiled_for": set()})
    monkeypatch.setattr(fused_norm, "_compiled", {})
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_a_missing_cpp_compiler_gives_one_warning_and_eager_results(fresh_compile_state):
    # What a machine without g++ looks like to torch's inductor (its search of config.cpp.cxx);
    # no on-disk cache entry may stand in for the compiler.
    from torch._inductor import config as inductor_config
    from torch._inductor import cpp_builder

    norm = group_norm(64, 32)
    x = torch.randn(2, 64, 6, 6)
    cpp_builder.cpp_compiler_search.cache_clear()
    try:
        with inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False}), \
                torch.no_grad(), pytest.warns(RuntimeWarning) as warned:
            first = group_norm_act(x.clone(), norm, relu=True)
            second = group_norm_act(x.clone(), norm, relu=True)
    finally:
        cpp_builder.cpp_compiler_search.cache_clear()
    ours = [str(w.message) for w in warned if str(w.message).startswith("gn_det")]
    assert len(ours) == 1, ours
    assert "InvalidCxxCompiler" in ours[0] and "eager GroupNorm from now on" in ours[0], ours[0]
    assert fused_norm.compile_failed()
    assert torch.equal(first, eager(x, norm, relu=True)) and torch.equal(second, first)


def test_compiling_is_logged_before_and_with_its_duration(fresh_compile_state, caplog):
    norm = group_norm(64, 32)
    x = torch.randn(2, 64, 6, 6)
    with torch.no_grad(), caplog.at_level("INFO", logger=fused_norm.__name__):
        group_norm_act(x.clone(), norm, relu=True)
        group_norm_act(x.clone(), norm, relu=True)  # compiled already: nothing more to say
    messages = [r.getMessage() for r in caplog.records if r.name == fused_norm.__name__]
    assert len(messages) >= 2 and "torch.compile of the fused GroupNorm kernels for cpu " \
        "contiguous float32 tensors" in messages[0], messages
    assert all("compiled a fused GroupNorm kernel" in m and m.endswith(" s.") for m in messages[1:])
    assert fused_norm.compile_seconds() > 0


def test_new_image_sizes_reuse_the_compiled_kernels(fresh_compile_state):
    # A kernel that specializes on a size recompiles for every image size, and past torch's
    # recompile limit (8) silently runs eager. Warm up on batch 1 and more, square and not, then
    # new heights and widths must compile nothing.
    norm = group_norm(64, 32)
    warm_up = [(1, 40, 56), (2, 48, 48), (3, 24, 40)]
    new_sizes = [(2, 33, 41), (1, 70, 30), (4, 27, 53), (2, 61, 45)]
    with torch.no_grad():
        for sizes in (warm_up, new_sizes):
            graphs_before = fused_norm._graphs_compiled()
            for n, h, w in sizes:
                x = torch.randn(n, 64, h, w).contiguous(memory_format=CHANNELS_LAST)
                residual = torch.randn_like(x)
                out = group_norm_act(x.clone(), norm, residual, relu=True)
                torch.testing.assert_close(out, eager(x, norm, residual, relu=True), atol=1e-5,
                                           rtol=1e-5)
    assert fused_norm._graphs_compiled() == graphs_before, "recompiled for a new size"
    assert not fused_norm.compile_failed()
