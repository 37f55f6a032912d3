"""What several test modules share; no test module imports another (tests/unit/test_layers.py checks it).

    accounting.py   the Accounting API as tests speak it: a notification receiver, requests, outcomes
    accounting_samples.py   the Accounting API's sample requests and the DESIGN's order mirrored into it
    bad_input.py    the malformed requests every route must refuse (tests/reliability/test_bad_input.py)
    cdp.py          a small Chrome DevTools Protocol client (the report's browser test, benchmarks/report_size.py)
    cli.py          `racelab` as a subprocess, and the result folder it wrote
    processes.py    a child process the test talks to (an example integration), read line by line
    published.py    the published facts of the VTEX Orders API (tests/fidelity/published.json), as data
    race.py         readings and waits on a simulator's state that the race tests make
    runs.py         hand-built judged runs, in the shape `racelab run` records (the report's tests)
    scenario_files.py   scenario files as the scenario tests write them: BASE, edit, write, invalid, scenario_of
    signals.py      a `racelab` command signalled for real: its output polled, its children checked gone

Fixtures stay in the `conftest.py` files; what they build (`Sim`, `SimFactory`) is imported from tests/conftest.py.
"""
