"""benchmarks/extended_map.py: a tiny grid runs, prints every mode's row, and refuses bad input."""

import json


def test_tiny_grid_reports_each_mode_against_the_plain_map(capsys, tmp_path, benchmark_script):
    bench = benchmark_script("extended_map")
    md = tmp_path / "t.md"
    assert bench.main(["--grid", "2:40:200,12:40:100", "--repeats", "1", "--n-mc", "4000",
                       "--markdown", str(md)]) == 0
    rows = [r for line in capsys.readouterr().out.splitlines() if line.startswith("[") for r in json.loads(line)]
    assert {(r["d"], r["mode"]) for r in rows} == {(d, m) for d in (2, 12) for m in bench.MODES}
    by = {(r["d"], r["mode"]): r for r in rows}
    assert by[(2, "plain")]["ratio_to_plain"] == 1.0 and by[(2, "plain")]["interpolated"] == 0.0
    assert by[(2, "paper")]["inside"] > 0.5 > by[(12, "paper")]["inside"]  # the hull shrinks with d
    assert "| 12 | 40 | 100 | paper |" in md.read_text()


def test_bad_arguments_exit_2(benchmark_script):
    bench = benchmark_script("extended_map")
    assert bench.main(["--modes", "paper"]) == 2  # plain is the reference
    try:
        bench.main(["--grid", "2:0:10"])
    except SystemExit as e:
        assert "--grid" in str(e)
    else:
        raise AssertionError("a zero n must be refused")
