"""benchmarks/bench_train.py's --against: which command line its reference step is."""

import pytest
import torch

from benchmarks.bench_train import against_config
from train_model import parse_args
from training.config import ConfigError, resolve_config


def test_against_is_another_command_line_sharing_only_the_data_and_the_device():
    config = resolve_config(
        vars(parse_args(["--type", "vox", "--data_root", "/d", "--batch_size", "4"])), default_device="cpu"
    )
    reference = against_config("--no-pixel_aligned --w_silhouette 0", config, torch.device("cpu"))
    assert reference.run.type == "vox" and reference.run.data_root == "/d" and reference.run.device == "cpu"
    assert reference.model_args["pixel_aligned"] is False and reference.settings.w_silhouette == 0
    assert reference.run.batch_size == resolve_config({"type": "vox"}, default_device="cpu").run.batch_size != 4
    assert against_config(None, config, torch.device("cpu")) is None


@pytest.mark.parametrize("flags", ["--type point", "--w_edge 0.5"])
def test_against_refuses_another_type_in_one_line(flags):
    config = resolve_config({"type": "vox"}, default_device="cpu")
    with pytest.raises(ConfigError, match="--type|not of --type vox"):
        against_config(flags, config, torch.device("cpu"))
