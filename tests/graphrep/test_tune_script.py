"""experiments/mvgrl_tune.py: --set specs are checked before any configuration trains."""
import pytest

from tests.conftest import load_experiment


def test_set_specs_parse_and_refuse_unknown_choices():
    tune = load_experiment("mvgrl_tune")
    cfg = tune._parse("full_batch=1,disc=bilinear,prelu=shared,lr=5e-4")
    assert (cfg["full_batch"], cfg["disc"], cfg["prelu"], cfg["lr"]) == (1, "bilinear", "shared", 5e-4)
    assert cfg["topk"] == 64  # the rest stays at the defaults
    for spec, message in (("prelu=per-channel", "prelu='per-channel' is not one of channel, shared"),
                          ("disc=glorot", "disc='glorot' is not one of xavier, bilinear"),
                          ("view=katz", "view='katz' is not one of ppr, heat"),
                          ("topk", "is not key=value"), ("depth=2", "unknown key 'depth'"),
                          ("lr=fast", "lr='fast' is not a number")):
        with pytest.raises(SystemExit, match=message):
            tune._parse(spec)
