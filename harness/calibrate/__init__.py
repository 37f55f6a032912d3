"""`racelab calibrate`: fit the simulator's timing profile to observations of the real platform.

Layout:

    observe.py      inputs (result folders, the proxy's record, HAR, CSV) -> observations; `RaceObservations`
    fit.py          the timing model's families fitted to one observable's durations (scipy.stats), the choice
    profile.py      which field each observable times, the split rule, the profile file written on a base
    lags.py         the hidden lags fitted to the race curve in virtual time (with virtual_race.py)
    calibration.py  `calibrate(inputs, base, seed) -> Calibration`: all of the above, for the command and tests
    page.py         the report page

Nothing is imported here: the modules need scipy (the `calibrate` extra) and `harness.virtual`; import them by name.
The rule of what is fitted from what is docs/calibrate.md.

Imports: see the `harness/calibrate/` row of docs/architecture.md.
"""
