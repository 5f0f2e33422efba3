from fastprox._demo import run_demo


def test_demo_quick(capsys):
    assert run_demo(quick=True) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "total" in out and "sparsity" in out
