"""float32 blocks: autocast off, and TF32 off on CUDA (the setting around them restored)."""

import pytest
import torch

from common.precision import float32, tf32_off


def test_tf32_off_nests_and_restores():
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with tf32_off():
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            with tf32_off():
                pass
            assert not torch.backends.cuda.matmul.allow_tf32  # the inner block put back the outer's setting
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with pytest.raises(RuntimeError), tf32_off():
            raise RuntimeError("restored on the way out, also after an error")
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


def test_float32_turns_autocast_off():
    x = torch.randn(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (x @ x).dtype == torch.bfloat16
        with float32(x):
            assert (x @ x).dtype == torch.float32
        assert (x @ x).dtype == torch.bfloat16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_float32_turns_tf32_off_on_cuda():
    x = torch.randn(4, 4, device="cuda")
    saved = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        with float32(x):
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == "medium"  # the setting around it, as it was
    finally:
        torch.set_float32_matmul_precision(saved)
